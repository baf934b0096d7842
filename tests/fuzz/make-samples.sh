#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make-samples.sh OUT - the small files the fuzzers start from, made with
# the packers the tests use: OUT/samples holds the images the index
# harness opens (image.raw 5 MiB, packed as gzip with two seek points;
# small.raw 300 KiB as bzip2 -1 and as several zstd frames), and
# OUT/seeds/source and OUT/seeds/ra the same small image in every packing
# (the ra seeds with the 8 bytes that choose its reads in front).
set -eu
LC_ALL=C
export LC_ALL

out=$1
s=$out/samples
tmp=$out/samples.tmp
rm -rf "$tmp"
mkdir -p "$tmp"

# Lines that differ (so a read from a wrong place shows), and compress
# well (so the samples stay small).
awk 'BEGIN { for (i = 0; i < 262144; i++) printf "line %013d\n", i }' \
	>"$tmp/image.raw"
head -c 307200 "$tmp/image.raw" >"$tmp/small.raw"
gzip -9n -c "$tmp/image.raw" >"$tmp/image.gz"
bzip2 -1 -c "$tmp/small.raw" >"$tmp/image.bz2"
: >"$tmp/image.zst"
for part in 0 1 2 3 4; do
	dd if="$tmp/small.raw" bs=61440 skip=$part count=1 2>/dev/null |
		zstd -q -c >>"$tmp/image.zst"
done

# One small image (a 1 KiB tail of the text after 7 KiB of zeros) in
# every packing bmapfs and bmapcopy read.
p=$tmp/pack
mkdir -p "$p"
{ head -c 7168 /dev/zero; head -c 1024 "$tmp/small.raw"; } >"$p/img"
gzip -n -c "$p/img" >"$p/img.gz"
bzip2 -c "$p/img" >"$p/img.bz2"
xz -c "$p/img" >"$p/img.xz"
xz -c --block-size=2KiB "$p/img" >"$p/img.blocks.xz"
zstd -q -c "$p/img" >"$p/img.zst"
lz4 -q -c "$p/img" >"$p/img.lz4"
lzop -c "$p/img" >"$p/img.lzo"
(cd "$p" && tar -cf img.tar img && zip -q -X img.zip img)
gzip -n -c "$p/img.tar" >"$p/img.tar.gz"
mkdir -p "$tmp/seeds/source" "$tmp/seeds/ra"
for f in "$p"/img*; do
	b=$(basename "$f")
	cp "$f" "$tmp/seeds/source/$b"
	{ printf '\000\020\001\000\000\001\002\003'; cat "$f"; } \
		>"$tmp/seeds/ra/$b"
done
# The seekable samples too, for the engine's seek points.
for f in image.bz2 image.zst; do
	{ printf '\000\001\100\000\040\000\000\177'; cat "$tmp/$f"; } \
		>"$tmp/seeds/ra/$f"
done
rm -rf "$p" "$s" "$out/seeds"
mv "$tmp/seeds" "$out/seeds"
mv "$tmp" "$s"
