#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcopy writes the image's bytes and keeps its holes whatever the
# packaging (plain, standard input, gzip, bzip2, xz, zstd, lz4, lzo, tar,
# zip; one stream or several), whichever bmap it is given (ours 1.2 and
# 2.0, bmaptool's, the golden 1.2 to 2.0 files) or finds beside the image,
# and without a bmap (by holes, --nobmap).

# shellcheck source=tests/common.sh disable=SC1091
. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmapcopy
need_cmd gzip gzip
need_cmd pigz pigz
need_cmd bzip2 bzip2
need_cmd lbzip2 lbzip2
need_cmd xz xz-utils
need_cmd zstd zstd
need_cmd lz4 lz4
need_cmd lzop lzop
need_cmd tar tar
need_cmd zip zip

B=$(fs_block_size "$WORK")
img=$WORK/image.img
dest=$WORK/dest.img
pack=$WORK/pack		# packaged images, with no bmap beside them
mkdir "$pack"

step "the test image (blocks of $B bytes, a partial last block) and its bmaps"
make_copy_image "$img" "$B"
expect_exit 0 "$BMAPCREATE" -o "$WORK/image-1.2.bmap" "$img"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$WORK/image-2.0.bmap" "$img"
bmap=$WORK/image-2.0.bmap
[ "$(ranges_of "$bmap")" = "$COPY_IMAGE_RANGES" ] ||
	fail "bmapcreate does not see the test image's holes: $(ranges_of "$bmap" | tr '\n' ' ')"
[ "$(stat -c %b "$img")" -lt $(($(stat -c %s "$img") / 512 / 4)) ] ||
	fail "the test image is not sparse"

# copy_ok WHAT WANT_IMAGE WANT_BMAP ARGS...: `bmapcopy ARGS DEST` into a
# new DEST succeeds with a summary line; DEST holds WANT_IMAGE's bytes and
# exactly the blocks WANT_BMAP maps (the holes were kept). The summary
# line is left in $WORK/summary.
copy_ok() {
	what=$1
	want=$2
	want_bmap=$3
	shift 3
	rm -f "$dest"
	expect_exit 0 "$BMAPCOPY" "$@" "$dest"
	assert_copy_summary
	cp "$WORK/stderr" "$WORK/summary"
	assert_same "$want" "$dest" "$what"
	expect_exit 0 "$BMAPCREATE" -q --no-checksum -o "$WORK/dest.bmap" "$dest"
	assert_same_ranges "$want_bmap" "$WORK/dest.bmap" "$what: the holes"
}

# packed WHAT FILE: copy_ok of the test image packaged as FILE, by its bmap.
packed() {
	step "$1"
	copy_ok "$1" "$img" "$bmap" --bmap "$bmap" "$2"
	grep -q ' 8 ranges verified' "$WORK/summary" ||
		fail "$1: the summary does not say 8 ranges were verified"
}

# two_streams COMPRESSOR...: the image cut inside a mapped range, each half
# compressed on its own, the two streams one after the other.
cut=$((310 * B + 7))
two_streams() {
	head -c "$cut" "$img" | "$@"
	tail -c +$((cut + 1)) "$img" | "$@"
}

# ---------------------------------------------------------------------
step "packaging the image"
gzip -c "$img" >"$pack/image.gz"
gzip -n -c <"$img" >"$pack/image-noname.gz"
two_streams gzip -c >"$pack/image-2.gz"
pigz -p 2 -c "$img" >"$pack/image-pigz.gz"
bzip2 -c "$img" >"$pack/image.bz2"
bzip2 -1 -c "$img" >"$pack/image-1.bz2"
two_streams bzip2 -c >"$pack/image-2.bz2"
lbzip2 -n 2 -c "$img" >"$pack/image-lbzip2.bz2"
xz -T1 -c "$img" >"$pack/image.xz"
xz -T2 --block-size=1MiB -c "$img" >"$pack/image-blocks.xz"
two_streams xz -c >"$pack/image-2.xz"
zstd -q -c "$img" >"$pack/image.zst"
two_streams zstd -q -c >"$pack/image-2.zst"
lz4 -q -c "$img" >"$pack/image.lz4"
two_streams lz4 -q -c >"$pack/image-2.lz4"
lzop -c "$img" >"$pack/image.lzo"
# Zero bytes after the data (padding to a block): gzip -t and bzip2 -t
# take them, and so does bmaptool; zstd follows the same rule here.
for f in image.gz image.bz2 image-2.bz2 image-2.zst; do
	cp "$pack/$f" "$pack/padded-$f"
	head -c 4096 /dev/zero >>"$pack/padded-$f"
	gzip -t "$pack/padded-image.gz" 2>/dev/null ||
		fail "gzip -t refuses zeros after gzip data: the test is wrong"
done

blocks=$(xz --robot -l "$pack/image-blocks.xz" | awk '$1 == "totals" { print $3 }')
[ "${blocks:-0}" -gt 1 ] || fail "xz -T2 --block-size=1MiB made $blocks block(s)"

tsrc=$WORK/tarsrc
mkdir -p "$tsrc/folder"
cp --sparse=always "$img" "$tsrc/image.img"
cp --sparse=always "$img" "$tsrc/folder/image.img"
cp "$bmap" "$tsrc/image.img.bmap"
tar -C "$tsrc" -cf "$pack/image.tar" image.img
tar -C "$tsrc" -czf "$pack/image.tar.gz" image.img
tar -C "$tsrc" -cjf "$pack/image.tar.bz2" image.img
tar -C "$tsrc" -cJf "$pack/image.tar.xz" image.img
tar -C "$tsrc" --zstd -cf "$pack/image.tar.zst" image.img
tar -C "$tsrc" -cf "$pack/bmap-first.tar" image.img.bmap image.img
tar -C "$tsrc" -czf "$pack/bmap-first.tar.gz" image.img.bmap image.img
tar -C "$tsrc" -cf "$pack/folder-first.tar" folder
tar -C "$tsrc" --format=gnu -S -cf "$pack/image-sparse-gnu.tar" image.img
tar -C "$tsrc" --format=posix -S -cf "$pack/image-sparse-pax.tar" image.img
(cd "$tsrc" && zip -q "$pack/image.zip" image.img)
(cd "$tsrc" && zip -q -0 "$pack/image-stored.zip" image.img)
(cd "$tsrc" && zip -q "$pack/bmap-first.zip" image.img.bmap image.img)
(cd "$tsrc" && zip -q - image.img) >"$pack/image-streamed.zip"

# ---------------------------------------------------------------------
packed "plain image" "$img"
packed "gzip" "$pack/image.gz"
packed "gzip without a name in its header" "$pack/image-noname.gz"
packed "gzip, two members" "$pack/image-2.gz"
packed "gzip made by pigz" "$pack/image-pigz.gz"
packed "bzip2" "$pack/image.bz2"
packed "bzip2 -1 (many 100k blocks)" "$pack/image-1.bz2"
packed "bzip2, two streams" "$pack/image-2.bz2"
packed "bzip2 made by lbzip2" "$pack/image-lbzip2.bz2"
packed "gzip, 4096 zero bytes after it" "$pack/padded-image.gz"
packed "bzip2, 4096 zero bytes after it" "$pack/padded-image.bz2"
packed "bzip2, two streams, 4096 zero bytes after them" "$pack/padded-image-2.bz2"
packed "zstd, two frames, 4096 zero bytes after them" "$pack/padded-image-2.zst"
packed "xz, one block" "$pack/image.xz"
packed "xz, $blocks blocks (xz -T2 --block-size=1MiB)" "$pack/image-blocks.xz"
packed "xz, two streams" "$pack/image-2.xz"
packed "zstd" "$pack/image.zst"
packed "zstd, two frames" "$pack/image-2.zst"
packed "lz4" "$pack/image.lz4"
packed "lz4, two frames" "$pack/image-2.lz4"
packed "lzop" "$pack/image.lzo"
packed "tar" "$pack/image.tar"
packed "tar.gz" "$pack/image.tar.gz"
packed "tar.bz2" "$pack/image.tar.bz2"
packed "tar.xz" "$pack/image.tar.xz"
packed "tar.zst" "$pack/image.tar.zst"
packed "tar with the .bmap entry first" "$pack/bmap-first.tar"
packed "tar.gz with the .bmap entry first" "$pack/bmap-first.tar.gz"
packed "tar with a folder entry first" "$pack/folder-first.tar"
packed "tar with GNU sparse entries (tar -S)" "$pack/image-sparse-gnu.tar"
packed "tar with PAX sparse entries (tar --format=posix -S)" "$pack/image-sparse-pax.tar"
packed "zip (deflate)" "$pack/image.zip"
packed "zip (stored)" "$pack/image-stored.zip"
packed "zip with the .bmap entry first" "$pack/bmap-first.zip"
packed "zip written to a pipe (data descriptors)" "$pack/image-streamed.zip"

# ---------------------------------------------------------------------
# Recognised by content, not by name.
cp "$pack/image.gz" "$pack/misnamed.img"
cp "$pack/image.xz" "$pack/misnamed.gz"
cp "$pack/image.tar.bz2" "$pack/misnamed.zip"
cp --sparse=always "$img" "$pack/plain.img.xz"
packed "gzip named misnamed.img" "$pack/misnamed.img"
packed "xz named misnamed.gz" "$pack/misnamed.gz"
packed "tar.bz2 named misnamed.zip" "$pack/misnamed.zip"
packed "a plain image named plain.img.xz" "$pack/plain.img.xz"

# ---------------------------------------------------------------------
# Standard input.
step "'-': a plain image on standard input (a regular file)"
copy_ok "plain on stdin" "$img" "$bmap" --bmap "$bmap" - <"$tsrc/image.img"
step "'-': a plain image on a pipe"
xz -dc "$pack/image.xz" | copy_ok "plain on a pipe" "$img" "$bmap" --bmap "$bmap" -
step "'-': xz on a pipe"
tail -c +1 "$pack/image.xz" | copy_ok "xz on a pipe" "$img" "$bmap" --bmap "$bmap" -
step "'-': gzip on standard input (a regular file)"
copy_ok "gzip on stdin" "$img" "$bmap" --bmap "$bmap" - <"$pack/image.gz"
step "'-': gzip and bzip2 with zeros after them, on a pipe"
tail -c +1 "$pack/padded-image.gz" |
	copy_ok "padded gzip on a pipe" "$img" "$bmap" --bmap "$bmap" -
tail -c +1 "$pack/padded-image.bz2" |
	copy_ok "padded bzip2 on a pipe" "$img" "$bmap" --bmap "$bmap" -
tail -c +1 "$pack/padded-image-2.zst" |
	copy_ok "padded zstd on a pipe" "$img" "$bmap" --bmap "$bmap" -
step "'-': tar.zst on a pipe"
tail -c +1 "$pack/image.tar.zst" | copy_ok "tar.zst on a pipe" "$img" "$bmap" --bmap "$bmap" -

# ---------------------------------------------------------------------
# Other bmaps of the same image.
step "our format 1.2 bmap (SHA-1), by xz and gzip"
copy_ok "1.2 bmap, xz" "$img" "$bmap" --bmap "$WORK/image-1.2.bmap" "$pack/image.xz"
copy_ok "1.2 bmap, gzip" "$img" "$bmap" -b "$WORK/image-1.2.bmap" "$pack/image.gz"

if [ -n "$BMAPTOOL" ] && [ -x "$BMAPTOOL" ]; then
	step "bmaptool create's bmap, by xz and bzip2"
	expect_exit 0 "$BMAPTOOL" create -o "$WORK/bmaptool.bmap" "$img"
	copy_ok "bmaptool's bmap, xz" "$img" "$bmap" --bmap "$WORK/bmaptool.bmap" "$pack/image.xz"
	copy_ok "bmaptool's bmap, bzip2" "$img" "$bmap" --bmap "$WORK/bmaptool.bmap" "$pack/image.bz2"

	for f in 1.2 2.0; do
		step "bmaptool copy takes our format $f bmap"
		rm -f "$dest"
		expect_exit 0 "$BMAPTOOL" copy --bmap "$WORK/image-$f.bmap" "$pack/image.xz" "$dest"
		assert_same "$img" "$dest" "bmaptool copy with our $f bmap"
	done
else
	step "bmaptool not found: the checks with bmaptool are skipped"
fi

# ---------------------------------------------------------------------
# The golden files: the reference project's image and its bmaps 1.2-2.0.
golden=$WORK/golden.img
gzip -dc "$DATADIR/test.image.gz" >"$golden"
for v in v1.2 v1.3 v1.4 v2.0 v2.0-bmaptool36; do
	gbmap=$DATADIR/test.image.bmap.$v
	step "golden test.image.gz by test.image.bmap.$v"
	if [ "$B" -eq "$(bmap_block_size "$gbmap")" ]; then
		copy_ok "golden $v" "$golden" "$gbmap" --bmap "$gbmap" "$DATADIR/test.image.gz"
	else
		# Another block size here: the holes cannot be compared.
		rm -f "$dest"
		expect_exit 0 "$BMAPCOPY" --bmap "$gbmap" "$DATADIR/test.image.gz" "$dest"
		assert_copy_summary
		cp "$WORK/stderr" "$WORK/summary"
		assert_same "$golden" "$dest" "golden $v"
	fi
	grep -q ' 48 ranges verified' "$WORK/summary" ||
		fail "golden $v: the summary does not say 48 ranges were verified"
done

# ---------------------------------------------------------------------
# The bmap beside the image: SOURCE.bmap, then SOURCE with its last
# extension replaced by .bmap, again and again.
make_copy_image "$WORK/other.img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$WORK/other.bmap" "$WORK/other.img"

beside() {
	step "$1: the bmap found beside the image"
	d=$WORK/beside-$2
	mkdir "$d"
	cp "$pack/image.xz" "$d/image.img.xz"
	shift 2
	for b in "$@"; do
		case $b in
		wrong:*) cp "$WORK/other.bmap" "$d/${b#wrong:}" ;;
		*) cp "$bmap" "$d/$b" ;;
		esac
	done
	copy_ok "bmap beside, $d" "$img" "$bmap" "$d/image.img.xz"
}
beside "image.img.xz.bmap" 1 image.img.xz.bmap
beside "image.img.bmap" 2 image.img.bmap
beside "image.bmap" 3 image.bmap
beside "image.img.xz.bmap before image.img.bmap and image.bmap" 4 \
	image.img.xz.bmap wrong:image.img.bmap wrong:image.bmap
beside "image.img.bmap before image.bmap" 5 image.img.bmap wrong:image.bmap

step "the wrong bmap beside the image is used when it is the only one"
mkdir "$WORK/beside-6"
cp "$pack/image.xz" "$WORK/beside-6/image.img.xz"
cp "$WORK/other.bmap" "$WORK/beside-6/image.bmap"
rm -f "$dest"
expect_exit 1 "$BMAPCOPY" "$WORK/beside-6/image.img.xz" "$dest"
assert_one_line_error bmapcopy
assert_error_mentions "checksum mismatch"

step "--bmap wins over the bmap beside the image"
cp "$WORK/other.bmap" "$WORK/beside-6/image.img.xz.bmap"
copy_ok "--bmap over beside" "$img" "$bmap" --bmap "$bmap" "$WORK/beside-6/image.img.xz"

# ---------------------------------------------------------------------
# No bmap.
step "by holes: a plain sparse image with no bmap"
mkdir "$WORK/holes"
cp --sparse=always "$img" "$WORK/holes/image.img"
copy_ok "by holes" "$img" "$bmap" "$WORK/holes/image.img"

step "by holes: a plain sparse image on standard input"
copy_ok "by holes, stdin" "$img" "$bmap" - <"$WORK/holes/image.img"

for src in "$WORK/holes/image.img" "$pack/image.xz" "$pack/image.tar.gz" \
	   "$pack/padded-image.gz" "$pack/padded-image.bz2" \
	   "$pack/padded-image-2.zst"; do
	step "--nobmap: every byte of $(basename "$src")"
	rm -f "$dest"
	expect_exit 0 "$BMAPCOPY" --nobmap "$src" "$dest"
	assert_copy_summary
	assert_same "$img" "$dest" "--nobmap $src"
done

step "--nobmap ignores a bmap beside the image"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --nobmap "$WORK/beside-6/image.img.xz" "$dest"
assert_copy_summary
assert_same "$img" "$dest" "--nobmap with a wrong bmap beside"

echo "PASS"
