#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# build.sh SRCDIR BUILDDIR OUT - build the libFuzzer harnesses with clang
# into OUT: the library's sources and each tests/fuzz/fuzz-*.c, compiled
# with -fsanitize=fuzzer,address,undefined (the main build uses gcc, so
# this is a build of its own). Only what changed is compiled again. Then
# the samples and seeds (make-samples.sh), when missing.
#
# From make (make fuzz, make check): CLANG, and FUZZ_CFLAGS / FUZZ_LIBS,
# the libraries' flags as configure found them. BUILDDIR has config.h.
# Exits 77 when clang cannot link a libFuzzer program.
set -eu
LC_ALL=C
export LC_ALL

srcdir=$1
builddir=$2
out=$3
CLANG=${CLANG:-clang}
: "${FUZZ_CFLAGS=}"
: "${FUZZ_LIBS=}"

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-std=gnu11 -g -O1 -fno-omit-frame-pointer $san -Wall -Wextra \
-Wno-unused-parameter -I$builddir -I$srcdir/src/lib $FUZZ_CFLAGS"

mkdir -p "$out/obj"

# Can clang link a fuzzer here (clang and libclang-rt-14-dev)?
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
	'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
	>"$out/probe.c"
if ! command -v "$CLANG" >/dev/null 2>&1 ||
	! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$out/probe" \
		"$out/probe.c" >"$out/probe.log" 2>&1; then
	echo "SKIP: clang/libFuzzer not installed (clang, libclang-rt-14-dev)"
	exit 77
fi

# Everything is compiled again when the flags or a header changed.
stamp=$out/obj/flags
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$CLANG $cflags" ]; then
	rm -f "$out"/obj/*.o
	echo "$CLANG $cflags" >"$stamp"
fi
for h in "$srcdir"/src/lib/*.h "$srcdir"/src/lib/*/*.h "$srcdir"/tests/fuzz/*.h "$builddir/config.h"; do
	if [ "$h" -nt "$stamp" ]; then
		rm -f "$out"/obj/*.o
		touch "$stamp"
		break
	fi
done

# compile SRC OBJ [EXTRA FLAGS]: when OBJ is missing or older than SRC.
compile() {
	_src=$1 _obj=$2
	shift 2
	if [ ! -f "$_obj" ] || [ "$_src" -nt "$_obj" ]; then
		echo "  CLANG    $_obj"
		# shellcheck disable=SC2086
		"$CLANG" $cflags "$@" -c -o "$_obj" "$_src"
	fi
}

objs=
for c in "$srcdir"/src/lib/*/*.c; do
	o=$out/obj/lib-$(basename "$(dirname "$c")")-$(basename "$c" .c).o
	compile "$c" "$o" -fsanitize=fuzzer-no-link
	objs="$objs $o"
done
for c in "$srcdir"/tests/fuzz/fuzz-*.c; do
	name=$(basename "$c" .c)
	o=$out/obj/$name.o
	compile "$c" "$o" -fsanitize=fuzzer
	if [ ! -f "$out/$name" ] || [ -n "$(find "$out/obj" -name '*.o' -newer "$out/$name")" ]; then
		echo "  CLANGLD  $out/$name"
		# shellcheck disable=SC2086
		"$CLANG" -fsanitize=fuzzer $san -o "$out/$name" "$o" $objs \
			$FUZZ_LIBS -lpthread
	fi
done

if [ ! -d "$out/samples" ] || [ ! -d "$out/seeds" ] ||
	[ "$srcdir/tests/fuzz/make-samples.sh" -nt "$out/samples" ]; then
	echo "  SAMPLES  $out/samples"
	sh "$srcdir/tests/fuzz/make-samples.sh" "$out"
	mkdir -p "$out/seeds/index"
	BMAP_FUZZ_SEEDS=$out/seeds/index "$out/fuzz-index" -runs=0 \
		>"$out/seeds/index.log" 2>&1 ||
		{ cat "$out/seeds/index.log" >&2; exit 1; }
fi
