#!/bin/sh
# Set up a Debian 12 machine to build and test bmap-tools, then configure
# the source tree: install (as root, only when missing) exactly the Debian
# packages the build and the tests need, generate ./configure, run it.
# Safe to run again: it does only what is not done yet.
#
# usage: contrib/setup.sh        (from the top of the source tree)
# CI=true (set by CI) adds --enable-werror: warnings fail the build there.
set -eu

cd "$(dirname "$0")/.."

# Build: compiler, autotools, the libraries (-dev packages; ISA-L,
# liblzma, libbz2 and liblzo2 are the fast or missing decoders; zlib and
# libzstd give bmapfs its gzip and zstd seek points).
# Tests: Check, fuse3 (fusermount3), util-linux and mount (mountpoint,
# losetup, mount), e2fsprogs (images with a file system), the compressors
# the tests pack images with, python3 (lseek SEEK_DATA/SEEK_HOLE walks),
# bmap-tools (the reference tool, an oracle).
# Benchmarks (contrib/bench.sh): GNU time, and isal (igzip), the fastest
# standalone gzip decoder that bmapcopy is measured against.
# Fuzzing (make fuzz, and the few seconds of it make check runs): clang
# and libclang-rt-14-dev, which holds libFuzzer and the sanitizer runtimes.
packages="gcc make autoconf automake pkg-config libfuse3-dev fuse3
libarchive-dev libxml2-dev libssl-dev libisal-dev liblzma-dev libbz2-dev
liblzo2-dev zlib1g-dev libzstd-dev check util-linux mount e2fsprogs coreutils diffutils gzip
pigz bzip2 lbzip2 xz-utils zstd lz4 lzop tar zip python3 bmap-tools
clang libclang-rt-14-dev time isal"

missing=
for p in $packages; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
            grep -q '^install ok installed$'; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing Debian packages:$missing" >&2
        echo "setup: run this as root, or: apt-get install$missing" >&2
        exit 1
    fi
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] ||
        [ Makefile.am -nt configure ]; then
    echo "setup: autoreconf"
    autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    flags=
    [ "${CI:-}" = true ] && flags=--enable-werror
    echo "setup: ./configure $flags"
    # shellcheck disable=SC2086
    ./configure -q $flags
fi
