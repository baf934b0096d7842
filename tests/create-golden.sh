#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcreate on a sparse copy of the reference test image writes the
# reference tool's golden bmaps byte for byte.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

GOLDEN12=$DATADIR/test.image.bmap.v1.2
GOLDEN20=$DATADIR/test.image.bmap.v2.0-bmaptool36
IMAGE_SIZE=821752
BS=4096

bs=$(fs_block_size "$WORK")
[ "$bs" -eq "$BS" ] ||
	skip "the golden bmaps use $BS-byte blocks; the file system of" \
	     "$WORK has $bs-byte blocks"

step "rebuild a sparse test.image holding only the golden bmap's blocks"
zcat "$DATADIR/test.image.gz" >"$WORK/full.img"
[ "$(stat -c %s "$WORK/full.img")" -eq "$IMAGE_SIZE" ] ||
	fail "test.image.gz does not hold $IMAGE_SIZE bytes"
img=$WORK/sparse.img
truncate -s "$IMAGE_SIZE" "$img"
nranges=0
for r in $(ranges_of "$GOLDEN12"); do
	first=${r%-*}
	last=${r#*-}
	dd if="$WORK/full.img" of="$img" bs="$BS" skip="$first" seek="$first" \
	   count=$((last - first + 1)) conv=notrunc status=none
	nranges=$((nranges + 1))
done
[ "$nranges" -eq 48 ] || fail "read $nranges ranges from $GOLDEN12, expected 48"
sync "$img"
rm -f "$WORK/full.img"

step "--format 1.2 equals test.image.bmap.v1.2"
expect_exit 0 "$BMAPCREATE" --format 1.2 "$img"
assert_stderr_empty
assert_same "$GOLDEN12" "$WORK/stdout" "v1.2 output"

step "--format 2.0 equals test.image.bmap.v2.0-bmaptool36"
expect_exit 0 "$BMAPCREATE" --format 2.0 "$img"
assert_stderr_empty
cp "$WORK/stdout" "$WORK/ours-2.0.bmap"
assert_same "$GOLDEN20" "$WORK/ours-2.0.bmap" "v2.0 output"

step "the default format is 1.2"
expect_exit 0 "$BMAPCREATE" "$img"
assert_same "$GOLDEN12" "$WORK/stdout" "default output"

step "-o FILE writes what stdout gets"
expect_exit 0 "$BMAPCREATE" -o "$WORK/out-1.2.bmap" "$img"
[ ! -s "$WORK/stdout" ] || fail "-o also wrote to stdout"
assert_same "$GOLDEN12" "$WORK/out-1.2.bmap" "-o output (1.2)"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$WORK/out-2.0.bmap" "$img"
[ ! -s "$WORK/stdout" ] || fail "-o also wrote to stdout"
assert_same "$GOLDEN20" "$WORK/out-2.0.bmap" "-o output (2.0)"

if [ -n "$BMAPTOOL" ] && [ -x "$BMAPTOOL" ]; then
	step "bmaptool create of the same file equals our --format 2.0"
	expect_exit 0 "$BMAPTOOL" create -o "$WORK/bmaptool.bmap" "$img"
	assert_same "$WORK/bmaptool.bmap" "$WORK/ours-2.0.bmap" \
		"bmaptool create vs ours"
else
	step "bmaptool not found: comparison with bmaptool create skipped"
fi

echo "PASS"
