#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcopy's failures: corrupt data (a range whose checksum does not match,
# a truncated or corrupt compressed stream), a bmap that is not the image's
# or is itself corrupt, a missing bmap, source or device, and a DEST that is
# an input. Each ends with exit status 1 and exactly one error line naming
# the problem; a failure found before the copy starts leaves DEST as it was.

# shellcheck source=tests/common.sh disable=SC1091
. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmapcopy
need_cmd gzip gzip
need_cmd bzip2 bzip2
need_cmd xz xz-utils
need_cmd zstd zstd
need_cmd lz4 lz4
need_cmd lzop lzop
need_cmd tar tar
need_cmd zip zip

P=bmapcopy
B=$(fs_block_size "$WORK")
img=$WORK/image.img
bmap=$WORK/image.bmap
dest=$WORK/dest.img
make_copy_image "$img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$bmap" "$img"
expect_exit 0 "$BMAPCREATE" --format 1.2 -o "$WORK/image-1.2.bmap" "$img"
mkdir "$WORK/pack"	# no bmap beside anything in here
gzip -c "$img" >"$WORK/pack/image.gz"

# fails WHAT ARGS...: `bmapcopy ARGS` exits 1 with one error line.
fails() {
	step "$1"
	shift
	expect_exit 1 "$BMAPCOPY" "$@"
	assert_one_line_error "$P"
	[ ! -s "$WORK/stdout" ] || fail "a failed copy wrote to stdout"
	echo "   $(cat "$WORK/stderr")"
}

# fails_untouched WHAT ARGS... (the last one DEST): fails, and DEST is left
# as it was: no new file, and an existing one's bytes and size unchanged.
fails_untouched() {
	untouched_what=$1
	shift
	eval "untouched_dest=\${$#}"
	# shellcheck disable=SC2154 # set by the eval above
	rm -f "$untouched_dest"
	fails "$untouched_what (no DEST before)" "$@"
	[ ! -e "$untouched_dest" ] ||
		fail "$untouched_what: the failed copy created DEST"
	head -c 100000 /dev/urandom >"$untouched_dest"
	before=$(file_state "$untouched_dest")
	fails "$untouched_what (an existing DEST)" "$@"
	[ "$(file_state "$untouched_dest")" = "$before" ] ||
		fail "$untouched_what: the failed copy changed the existing DEST"
	rm -f "$untouched_dest"
}

# ---------------------------------------------------------------------
# Corrupt data in a mapped range: a flipped byte in block 310, inside the
# range 300-339; the gzip of it is valid.
cp --sparse=always "$img" "$WORK/flipped.img"
flip_byte "$WORK/flipped.img" $((310 * B + 7))
gzip -c "$WORK/flipped.img" >"$WORK/pack/flipped.gz"

fails "a flipped byte in blocks 300-339 of a gzip image (2.0 bmap, SHA-256)" \
	--bmap "$bmap" "$WORK/pack/flipped.gz" "$dest"
assert_error_mentions "checksum mismatch" "300-339"
fails "the same with the 1.2 bmap (SHA-1)" \
	--bmap "$WORK/image-1.2.bmap" "$WORK/pack/flipped.gz" "$dest"
assert_error_mentions "checksum mismatch" "300-339"
fails "the same from the plain image" --bmap "$bmap" "$WORK/flipped.img" "$dest"
assert_error_mentions "checksum mismatch" "300-339"
# The one mismatch message, bmapfs's too (tests/fs-errors.sh).
assert_error_mentions "^bmapcopy: error: checksum mismatch in blocks 300-339: the bmap says sha256 [0-9a-f]\{64\}, the image has [0-9a-f]\{64\}\$"

# A one-block range is named as one block.
cp --sparse=always "$img" "$WORK/flipped-512.img"
flip_byte "$WORK/flipped-512.img" $((512 * B))
gzip -c "$WORK/flipped-512.img" >"$WORK/pack/flipped-512.gz"
fails "a flipped first byte of the one-block range 512" \
	--bmap "$bmap" "$WORK/pack/flipped-512.gz" "$dest"
assert_error_mentions "^bmapcopy: error: checksum mismatch in block 512: the bmap says sha256 "
fails "the same with the 1.2 bmap (SHA-1), from the plain image" \
	--bmap "$WORK/image-1.2.bmap" "$WORK/flipped-512.img" "$dest"
assert_error_mentions "^bmapcopy: error: checksum mismatch in block 512: the bmap says sha1 [0-9a-f]\{40\}, "

step "--no-verify copies the flipped byte: exit 0"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --no-verify --bmap "$bmap" "$WORK/pack/flipped.gz" "$dest"
assert_copy_summary
assert_same "$WORK/flipped.img" "$dest" "--no-verify"

step "a changed byte in a hole is neither copied nor an error"
cp --sparse=always "$img" "$WORK/holey.img"
printf 'X' | dd of="$WORK/holey.img" bs=1 seek=$((200 * B + 5)) conv=notrunc status=none
gzip -c "$WORK/holey.img" >"$WORK/pack/holey.gz"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --bmap "$bmap" "$WORK/pack/holey.gz" "$dest"
assert_copy_summary
assert_same "$img" "$dest" "a byte in a hole"

# ---------------------------------------------------------------------
# Truncated and corrupt compressed streams. With --nobmap nothing but the
# stream's own checks can tell. (lzop comes last, below.)
bad_streams() {
	fmt=$1
	case $fmt in
	gzip) gzip -c "$img" ;;
	bzip2) bzip2 -c "$img" ;;
	xz) xz -c "$img" ;;
	zstd) zstd -q -c "$img" ;;
	lz4) lz4 -q -c "$img" ;;
	lzop) lzop -c "$img" ;;
	esac >"$WORK/whole.$fmt"
	size=$(stat -c %s "$WORK/whole.$fmt")
	head -c $((size / 2)) "$WORK/whole.$fmt" >"$WORK/pack/cut.$fmt"
	cp "$WORK/whole.$fmt" "$WORK/pack/corrupt.$fmt"
	flip_byte "$WORK/pack/corrupt.$fmt" $((size / 2))

	fails "$fmt cut in half, by the bmap" --bmap "$bmap" "$WORK/pack/cut.$fmt" "$dest"
	fails "$fmt cut in half, --nobmap" --nobmap "$WORK/pack/cut.$fmt" "$dest"
	tail -c +1 "$WORK/pack/cut.$fmt" |
		fails "$fmt cut in half on a pipe, --nobmap" --nobmap - "$dest"
	fails "$fmt with a flipped byte in the middle, --nobmap" \
		--nobmap "$WORK/pack/corrupt.$fmt" "$dest"
}
for fmt in gzip bzip2 xz zstd lz4; do
	bad_streams "$fmt"
done

# Zero bytes after the data are padding (see copy-formats.sh); anything
# else after them, or instead of them, is still refused.
for fmt in gzip bzip2; do
	for tail in "x" "zeros+x"; do
		cp "$WORK/whole.$fmt" "$WORK/pack/garbage.$fmt"
		case $tail in
		zeros+*) head -c 4096 /dev/zero >>"$WORK/pack/garbage.$fmt" ;;
		esac
		printf x >>"$WORK/pack/garbage.$fmt"
		fails "$fmt with $tail after it, by the bmap" \
			--bmap "$bmap" "$WORK/pack/garbage.$fmt" "$dest"
		assert_error_mentions "trailing garbage"
		fails "$fmt with $tail after it, --nobmap" \
			--nobmap "$WORK/pack/garbage.$fmt" "$dest"
		assert_error_mentions "trailing garbage"
	done
done

for where in "CRC32:8" "ISIZE:2"; do
	step "gzip with a flipped byte in the trailer's ${where%:*}"
	cp "$WORK/pack/image.gz" "$WORK/pack/trailer.gz"
	flip_byte "$WORK/pack/trailer.gz" $(($(stat -c %s "$WORK/pack/trailer.gz") - ${where#*:}))
	if gzip -t "$WORK/pack/trailer.gz" 2>/dev/null; then
		fail "gzip -t accepts the corrupted gzip: the test is wrong"
	fi
	fails "  by the bmap" --bmap "$bmap" "$WORK/pack/trailer.gz" "$dest"
	fails "  --nobmap" --nobmap "$WORK/pack/trailer.gz" "$dest"
done

step "two gzip members, the first one's CRC32 flipped"
head -c $((310 * B)) "$img" | gzip -c >"$WORK/member1.gz"
flip_byte "$WORK/member1.gz" $(($(stat -c %s "$WORK/member1.gz") - 8))
tail -c +$((310 * B + 1)) "$img" | gzip -c >"$WORK/member2.gz"
cat "$WORK/member1.gz" "$WORK/member2.gz" >"$WORK/pack/members.gz"
fails "  by the bmap" --bmap "$bmap" "$WORK/pack/members.gz" "$dest"
fails "  --nobmap" --nobmap "$WORK/pack/members.gz" "$dest"

step "a zip whose stored image has a flipped byte (the zip's CRC32)"
(cd "$WORK" && zip -q -0 "$WORK/pack/image.zip" image.img)
cp "$WORK/pack/image.zip" "$WORK/pack/corrupt.zip"
# The stored data starts after the 30-byte local header, the name and the
# extra field, whose lengths are 16-bit little-endian numbers at 26 and 28.
# shellcheck disable=SC2046 # four numbers, split on purpose
set -- $(od -An -tu1 -j 26 -N 4 "$WORK/pack/image.zip")
flip_byte "$WORK/pack/corrupt.zip" $((30 + $1 + 256 * $2 + $3 + 256 * $4 + 310 * B + 7))
fails "  --nobmap" --nobmap "$WORK/pack/corrupt.zip" "$dest"
fails "  by the bmap" --bmap "$bmap" "$WORK/pack/corrupt.zip" "$dest"

# ---------------------------------------------------------------------
# A bmap that is not the image's.
# The image's first 2 MiB, and the image with 2 MiB of zeros after it.
head -c $((2 * 1024 * 1024)) "$img" >"$WORK/small.img"
cp --sparse=always "$img" "$WORK/big.img"
truncate -s +2M "$WORK/big.img"
gzip -c "$WORK/small.img" >"$WORK/pack/small.gz"
gzip -c "$WORK/big.img" >"$WORK/pack/big.gz"

fails_untouched "a plain image smaller than the bmap's ImageSize" \
	--bmap "$bmap" "$WORK/small.img" "$dest"
assert_error_mentions "bmap"
fails_untouched "a plain image larger than the bmap's ImageSize" \
	--bmap "$bmap" "$WORK/big.img" "$dest"
fails "a gzip image shorter than the bmap's ImageSize" \
	--bmap "$bmap" "$WORK/pack/small.gz" "$dest"
assert_error_mentions "ImageSize\|size"
fails "a gzip image longer than the bmap's ImageSize" \
	--bmap "$bmap" "$WORK/pack/big.gz" "$dest"
assert_error_mentions "ImageSize\|size"
gzip -dc "$WORK/pack/big.gz" |
	fails "a plain image on a pipe, longer than the bmap's ImageSize" \
		--bmap "$bmap" - "$dest"

make_copy_image "$WORK/other.img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$WORK/other.bmap" "$WORK/other.img"
fails "the bmap of another image of the same size, gzip" \
	--bmap "$WORK/other.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "checksum mismatch"
fails "the bmap of another image of the same size, plain" \
	--bmap "$WORK/other.bmap" "$img" "$dest"
assert_error_mentions "checksum mismatch"

# ---------------------------------------------------------------------
# A bad bmap.
sed 's/Image size in bytes/Image size in Bytes/' "$bmap" >"$WORK/edited.bmap"
! cmp -s "$bmap" "$WORK/edited.bmap" || fail "the comment edit changed nothing"
fails_untouched "a 2.0 bmap with an edited comment (wrong BmapFileChecksum)" \
	--bmap "$WORK/edited.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "checksum"
sed 's/Image size in bytes/Image size in Bytes/' "$DATADIR/test.image.bmap.v1.3" >"$WORK/edited-1.3.bmap"
fails_untouched "the golden 1.3 bmap with an edited comment (wrong BmapFileSHA1)" \
	--bmap "$WORK/edited-1.3.bmap" "$DATADIR/test.image.gz" "$dest"
assert_error_mentions "checksum\|sha1"
printf '<bmap version="2.0"><ImageSize>oops' >"$WORK/malformed.bmap"
fails_untouched "a malformed bmap" --bmap "$WORK/malformed.bmap" "$WORK/pack/image.gz" "$dest"
# Self-consistent but for a size that does not fit in off_t (2^63 bytes):
# nothing could be written to it; the gzip image cannot tell its size.
fails_untouched "a bmap whose ImageSize is 2^63" \
	--bmap "$DATADIR/size-2e63.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "ImageSize" "too large"
# Bytes not in the declared encoding: libxml2's own messages ("encoding
# error", "I/O error", a "Bytes: ..." line) must not reach stderr.
# shellcheck disable=SC2016 # an escape sequence, not an expansion
printf '<?xml version="1.0" encoding="ISO-2022-JP"?>\n<bmap version="1.2"><ImageSize>\033$B\377\377</ImageSize></bmap>\n' \
	>"$WORK/jis.bmap"
fails_untouched "a bmap with bytes its ISO-2022-JP declaration refuses" \
	--bmap "$WORK/jis.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "malformed XML" "input conversion failed"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<bmap version="1.2"><ImageSize>\377\376</ImageSize></bmap>\n' \
	>"$WORK/utf8.bmap"
fails_untouched "a bmap with bytes that are not UTF-8" \
	--bmap "$WORK/utf8.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "malformed XML" "UTF-8"
fails_untouched "a --bmap that does not exist" \
	--bmap "$WORK/no-such.bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "no-such.bmap"

# ---------------------------------------------------------------------
# No bmap where one is needed.
fails_untouched "a gzip image with no bmap" "$WORK/pack/image.gz" "$dest"
assert_error_mentions "--bmap" "--nobmap"
head -c 100000 /dev/urandom >"$dest"
before=$(file_state "$dest")
fails "a gzip image on standard input with no --bmap (an existing DEST)" \
	- "$dest" <"$WORK/pack/image.gz"
assert_error_mentions "--bmap" "--nobmap"
[ "$(file_state "$dest")" = "$before" ] || fail "the failed copy changed DEST"
gzip -dc "$WORK/pack/image.gz" |
	fails "a plain image on a pipe with no --bmap (an existing DEST)" - "$dest"
assert_error_mentions "--bmap" "--nobmap"
[ "$(file_state "$dest")" = "$before" ] || fail "the failed copy changed DEST"
rm -f "$dest"

step "the bmap search stops at the folder: dir.v2/image finds no dir.bmap"
mkdir "$WORK/dir.v2"
cp "$WORK/pack/image.gz" "$WORK/dir.v2/image"
cp "$bmap" "$WORK/dir.bmap"
fails_untouched "  dir.v2/image" "$WORK/dir.v2/image" "$dest"
assert_error_mentions "--nobmap"
mkdir "$WORK/dots"
cp "$WORK/pack/image.gz" "$WORK/dots/.image"
cp "$bmap" "$WORK/dots/.bmap"
fails_untouched "  dots/.image finds no dots/.bmap" "$WORK/dots/.image" "$dest"
assert_error_mentions "--nobmap"

# ---------------------------------------------------------------------
# Missing or wrong source, bad DEST.
fails_untouched "a missing source" --bmap "$bmap" "$WORK/no-such.img" "$dest"
assert_error_mentions "no-such.img"
fails_untouched "a missing source, no bmap" "$WORK/no-such.img" "$dest"
fails_untouched "a folder as the source" --bmap "$bmap" "$WORK/pack" "$dest"
tar -C "$WORK" -cf "$WORK/pack/only-bmap.tar" image.bmap
fails_untouched "a tar holding only a .bmap" --bmap "$bmap" "$WORK/pack/only-bmap.tar" "$dest"
: >"$WORK/pack/empty.img"
fails_untouched "an empty source, by the bmap" --bmap "$bmap" "$WORK/pack/empty.img" "$dest"

nodev=/dev/bmapcopy-test-nonexistent
[ ! -e "$nodev" ] || fail "$nodev exists before the test"
on_cleanup "rm -f '$nodev'"
fails "a nonexistent /dev path as DEST" --bmap "$bmap" "$WORK/pack/image.gz" "$nodev"
[ ! -e "$nodev" ] || fail "bmapcopy created $nodev"
fails "a nonexistent /dev path as DEST, by holes" "$img" "$nodev"
[ ! -e "$nodev" ] || fail "bmapcopy created $nodev"

fails "a folder as DEST" --bmap "$bmap" "$WORK/pack/image.gz" "$WORK/pack"

# DEST is looked at once, on the descriptor that is written: replaced by
# a FIFO just before bmapcopy opens it (tests/swap-open.c does that), a
# regular file when it was first named must not make bmapcopy open the
# FIFO as one and wait for a reader for ever.
shim=$top_builddir/tests/swap-open.so
[ -f "$shim" ] || fail "$shim is not built"
for how in "by the bmap" "by holes"; do
	rm -f "$WORK/raced.img"
	echo "a regular file" >"$WORK/raced.img"
	mkfifo "$WORK/swap.fifo"
	case $how in
	"by the bmap") args="--bmap $bmap $WORK/pack/image.gz" ;;
	*) args=$img ;;
	esac
	step "DEST replaced by a FIFO before it is opened ($how)"
	# Under ASan (CI's second run) the shim comes before its runtime:
	# ASan is told that this is wanted.
	# shellcheck disable=SC2086 # split on purpose (no blanks in $WORK)
	expect_exit 1 timeout 10 env LD_PRELOAD="$shim" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0" \
		SWAP_AT="$WORK/raced.img" SWAP_WITH="$WORK/swap.fifo" \
		"$BMAPCOPY" $args "$WORK/raced.img"
	assert_one_line_error "$P"
	[ -p "$WORK/raced.img" ] || fail "the shim did not swap the FIFO in"
	assert_error_mentions "not a block device or a regular file"
	echo "   $(cat "$WORK/stderr")"
done
rm -f "$WORK/raced.img"
fails "DEST in a folder that does not exist" \
	--bmap "$bmap" "$WORK/pack/image.gz" "$WORK/no-such-dir/dest.img"
[ ! -e "$WORK/no-such-dir" ] || fail "the missing folder was created"

# ---------------------------------------------------------------------
# DEST is an input.
cp --sparse=always "$img" "$WORK/src.img"
ln -s src.img "$WORK/src-link.img"
ln "$WORK/src.img" "$WORK/src-hard.img"
src_before=$(file_state "$WORK/src.img")
for d in "$WORK/src.img" "$WORK/./src.img" "$WORK/pack/../src.img" \
	 "$WORK/src-link.img" "$WORK/src-hard.img"; do
	fails "DEST $d is SOURCE (by the bmap)" --bmap "$bmap" "$WORK/src.img" "$d"
	[ "$(file_state "$WORK/src.img")" = "$src_before" ] || fail "SOURCE was changed"
done
fails "DEST is SOURCE (by holes)" "$WORK/src.img" "$WORK/src.img"
[ "$(file_state "$WORK/src.img")" = "$src_before" ] || fail "SOURCE was changed"
fails "DEST is SOURCE (--nobmap)" --nobmap "$WORK/src.img" "$WORK/src.img"
[ "$(file_state "$WORK/src.img")" = "$src_before" ] || fail "SOURCE was changed"
gz_before=$(file_state "$WORK/pack/image.gz")
fails "DEST is SOURCE (gzip)" --bmap "$bmap" "$WORK/pack/image.gz" "$WORK/pack/image.gz"
[ "$(file_state "$WORK/pack/image.gz")" = "$gz_before" ] || fail "SOURCE was changed"
# shellcheck disable=SC2094 # reading and writing one file is the point
fails "DEST is SOURCE (standard input, by the bmap)" --bmap "$bmap" - "$WORK/src.img" <"$WORK/src.img"
[ "$(file_state "$WORK/src.img")" = "$src_before" ] || fail "SOURCE was changed"
# shellcheck disable=SC2094 # reading and writing one file is the point
fails "DEST is SOURCE (standard input, by holes)" - "$WORK/src.img" <"$WORK/src.img"
[ "$(file_state "$WORK/src.img")" = "$src_before" ] || fail "SOURCE was changed"

bmap_before=$(file_state "$bmap")
fails "DEST is the --bmap" --bmap "$bmap" "$WORK/pack/image.gz" "$bmap"
[ "$(file_state "$bmap")" = "$bmap_before" ] || fail "the bmap was changed"
mkdir "$WORK/beside"
cp "$WORK/pack/image.gz" "$WORK/beside/image.img.gz"
cp "$bmap" "$WORK/beside/image.img.bmap"
bmap_before=$(file_state "$WORK/beside/image.img.bmap")
fails "DEST is the bmap found beside SOURCE" \
	"$WORK/beside/image.img.gz" "$WORK/beside/image.img.bmap"
[ "$(file_state "$WORK/beside/image.img.bmap")" = "$bmap_before" ] ||
	fail "the bmap was changed"

# ---------------------------------------------------------------------
# lzop, which libarchive may decode by running the lzop program: its
# messages must not reach stderr besides bmapcopy's own error line.
bad_streams lzop

echo "PASS"
