#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# run.sh SRCDIR OUT SECONDS [NAME...] - run each fuzzer built in OUT
# (build.sh) for SECONDS, on one core, one after the other: NAME is bmap,
# source, ra or index (all four by default). Each starts from its seeds
# (tests/data's bmaps, the generated samples, and tests/fuzz/corpus/NAME:
# the inputs that once failed, run again every time) and keeps what it
# finds new in OUT/corpus/NAME. A failing input is left as
# OUT/crash-NAME-*; the exit status is then 1.
#
# FUZZ_SMOKE=1 (make check): a fixed random seed and a fresh corpus each
# time, so that a run finds the same things every time it is repeated.
set -eu
LC_ALL=C
export LC_ALL

srcdir=$1
out=$2
secs=$3
shift 3
[ $# -gt 0 ] || set -- bmap source ra index

# Sanitizer reports must reach libFuzzer's own log, whatever the caller's
# environment says.
unset ASAN_OPTIONS UBSAN_OPTIONS
failed=
for name in "$@"; do
	case $name in
	bmap) seeds="$srcdir/tests/data" ;;
	*) seeds="$out/seeds/$name" ;;
	esac
	corpus=$out/corpus/$name
	opts=
	if [ "${FUZZ_SMOKE:-}" = 1 ]; then
		corpus=$out/smoke/$name
		rm -rf "$corpus"
		opts=-seed=1
	fi
	mkdir -p "$corpus"
	[ -d "$srcdir/tests/fuzz/corpus/$name" ] &&
		seeds="$seeds $srcdir/tests/fuzz/corpus/$name"
	log=$out/$name.log
	echo "fuzz: $name for ${secs}s"
	# shellcheck disable=SC2086
	if "$out/fuzz-$name" $opts -max_total_time="$secs" -timeout=30 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$name-" \
		"$corpus" $seeds \
		>"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units' "$log" |
			sed "s/.*: */fuzz: $name: executions: /"
	else
		tail -n 60 "$log" >&2
		echo "fuzz: $name FAILED (log: $log)" >&2
		failed="$failed $name"
	fi
done
[ -z "$failed" ] || exit 1
