#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libFuzzer harnesses (tests/fuzz) build with clang, still pass every
# input that once failed (tests/fuzz/corpus), and survive a few seconds of
# fuzzing each (FUZZ_SMOKE_SECONDS, 3 by default). make fuzz runs them
# longer.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

out=$top_builddir/tests/fuzz-build
secs=${FUZZ_SMOKE_SECONDS:-3}

step "build the fuzzers with clang"
status=0
sh "$top_srcdir/tests/fuzz/build.sh" "$top_srcdir" "$top_builddir" "$out" ||
	status=$?
[ "$status" -eq 77 ] && exit 77
[ "$status" -eq 0 ] || fail "the fuzzers do not build"

step "run each for ${secs}s"
FUZZ_SMOKE=1 sh "$top_srcdir/tests/fuzz/run.sh" "$top_srcdir" "$out" "$secs" ||
	fail "a fuzzer found a failing input (see $out/crash-*)"
