#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcreate against the reference tool on generated edge cases: the same
# v2.0 bytes as `bmaptool create`, the same ranges in v1.2, and bmaps that
# `bmaptool copy` accepts and restores the image with.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmaptool
B=$(fs_block_size "$WORK")

# check_image NAME: compare bmapcreate and bmaptool on $WORK/NAME.img.
check_image() {
	name=$1
	img=$WORK/$name.img
	step "$name ($(stat -c %s "$img") bytes)"

	expect_exit 0 "$BMAPTOOL" create -o "$WORK/$name.ref.bmap" "$img"
	expect_exit 0 "$BMAPCREATE" -q --format 2.0 -o "$WORK/$name.2.0.bmap" "$img"
	assert_stderr_empty
	assert_same "$WORK/$name.ref.bmap" "$WORK/$name.2.0.bmap" \
		"$name: --format 2.0 vs bmaptool create"

	expect_exit 0 "$BMAPCREATE" -q --format 1.2 -o "$WORK/$name.1.2.bmap" "$img"
	assert_stderr_empty
	assert_same_ranges "$WORK/$name.ref.bmap" "$WORK/$name.1.2.bmap" \
		"$name: --format 1.2 vs bmaptool create"

	for fmt in 1.2 2.0; do
		rm -f "$WORK/out.img"
		expect_exit 0 "$BMAPTOOL" copy --bmap "$WORK/$name.$fmt.bmap" \
			"$img" "$WORK/out.img"
		cmp "$img" "$WORK/out.img" ||
			fail "$name: bmaptool copy with our $fmt bmap changed the data"
	done
	rm -f "$WORK/out.img"
}

# check_no_checksum NAME: --no-checksum output equals bmaptool's too.
check_no_checksum() {
	img=$WORK/$1.img
	step "$1 with --no-checksum"
	expect_exit 0 "$BMAPTOOL" create --no-checksum -o "$WORK/$1.ref-nc.bmap" "$img"
	expect_exit 0 "$BMAPCREATE" -q --format 2.0 --no-checksum \
		-o "$WORK/$1.nc.bmap" "$img"
	assert_same "$WORK/$1.ref-nc.bmap" "$WORK/$1.nc.bmap" \
		"$1: --format 2.0 --no-checksum vs bmaptool create --no-checksum"
}

make_sparse "$WORK/one-byte.img" 1 "0:1"
check_image one-byte

make_sparse "$WORK/hundred-bytes.img" 100 "0:100"
check_image hundred-bytes

make_sparse "$WORK/block-minus-1.img" $((B - 1)) "0:$((B - 1))"
check_image block-minus-1

make_sparse "$WORK/block.img" "$B" "0:$B"
check_image block

make_sparse "$WORK/block-plus-1.img" $((B + 1)) "0:$((B + 1))"
check_image block-plus-1

make_sparse "$WORK/all-hole.img" $((10 * B)) ""
check_image all-hole

make_sparse "$WORK/all-hole-1m.img" 1048576 ""
check_image all-hole-1m

make_sparse "$WORK/all-mapped.img" 65536 "0:65536"
check_image all-mapped

make_sparse "$WORK/middle.img" $((12 * B)) "$((4 * B)):$((3 * B))"
check_image middle

make_sparse "$WORK/partial-tail.img" $((5 * B + 100)) "$((5 * B)):100"
check_image partial-tail

make_sparse "$WORK/odd-hole.img" $((7 * B + 1)) \
	"1:$((B - 2)) $((3 * B - 1)):2 $((7 * B)):1"
check_image odd-hole

make_sparse "$WORK/even-blocks.img" $((9 * B)) \
	"0:$B $((2 * B)):$B $((4 * B)):$B $((6 * B)):$B $((8 * B)):$B"
check_image even-blocks
check_no_checksum even-blocks

# More than 10000 ranges: one byte in every other block of 20010.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3 || :)
if [ -n "$PYTHON" ]; then
	rm -f "$WORK/many.img"
	"$PYTHON" - "$WORK/many.img" "$B" <<'EOF'
import os, sys
path, bs = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
os.ftruncate(fd, 20010 * bs)
for block in range(0, 20010, 2):
    os.pwrite(fd, b"\x5a", block * bs)
os.fsync(fd)
os.close(fd)
EOF
	check_image many
	n=$(ranges_of "$WORK/many.2.0.bmap" | wc -l)
	[ "$n" -eq 10005 ] || fail "many: $n ranges, expected 10005"
	check_no_checksum many
else
	step "no python3: the image with more than 10000 ranges is skipped"
fi

echo "PASS"
