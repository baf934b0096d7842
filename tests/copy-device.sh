#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcopy to a block device (a loop device): only the mapped blocks are
# written, the rest of the device keeps what it held; the device's I/O
# settings (scheduler, bdi max_ratio) are put back afterwards; a device
# that is too small or mounted is refused and left alone. Needs root.

# shellcheck source=tests/common.sh disable=SC1091
. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmapcopy
need_loop
need_cmd xz xz-utils
need_cmd mkfs.ext4 e2fsprogs
need_cmd mount mount

P=bmapcopy
B=$(fs_block_size "$WORK")
img=$WORK/image.img
bmap=$WORK/image.bmap
MiB=1048576

step "the test image, its bmap and its xz"
make_copy_image "$img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$bmap" "$img"
xz -T2 -c "$img" >"$WORK/image.img.xz"
img_size=$(stat -c %s "$img")

# expected_device SIZE FILE: FILE is a SIZE-byte device's content after
# the image was written by its bmap over the 0xAA pattern.
expected_device() {
	pattern_file "$2" "$1"
	overlay_ranges "$bmap" "$img" "$2"
}

# fill_device DEV SIZE: write the 0xAA pattern over the whole device.
fill_device() {
	head -c "$2" /dev/zero | tr '\000' '\252' |
		dd of="$1" bs=$MiB iflag=fullblock oflag=direct status=none
}

# assert_device DEV FILE WHAT: the device's bytes are FILE's.
assert_device() {
	if ! cmp "$1" "$2" >"$WORK/cmp.out" 2>&1; then
		sed 's/^/  | /' "$WORK/cmp.out" >&2
		fail "$3: the device's content is not the expected one"
	fi
}

# ---------------------------------------------------------------------
step "an 8 MiB loop device filled with 0xAA, its I/O settings changed from bmapcopy's"
truncate -s $((8 * MiB)) "$WORK/disk8"
loop_attach "$WORK/disk8"
dev=$LOOP_DEV
sys=$LOOP_SYS
detune_loop "$sys"
fill_device "$dev" $((8 * MiB))
before=$(io_settings "$sys")
echo "   $dev: $before"
expected_device $((8 * MiB)) "$WORK/expected8"

step "bmapcopy the xz image by its bmap to the device"
expect_exit 0 "$BMAPCOPY" --bmap "$bmap" "$WORK/image.img.xz" "$dev"
if grep -q '^bmapcopy: warning' "$WORK/stderr"; then
	sed 's/^/  | /' "$WORK/stderr" >&2
	fail "a warning writing to a loop device"
fi
assert_copy_summary
grep -q ' 8 ranges verified' "$WORK/stderr" || fail "the summary does not say 8 ranges were verified"

step "the mapped blocks are the image's, the others still hold the pattern"
assert_device "$dev" "$WORK/expected8" "by the bmap"
cmp -n "$img_size" "$dev" "$img" >/dev/null 2>&1 &&
	fail "the holes were written too (the device's start equals the image)"

step "the scheduler and max_ratio are as they were"
after=$(io_settings "$sys")
[ "$after" = "$before" ] || fail "I/O settings before: $before; after: $after"

step "by holes: a plain sparse image with no bmap, to the device"
fill_device "$dev" $((8 * MiB))
mkdir "$WORK/holes"
cp --sparse=always "$img" "$WORK/holes/image.img"
expect_exit 0 "$BMAPCOPY" "$WORK/holes/image.img" "$dev"
assert_copy_summary
assert_device "$dev" "$WORK/expected8" "by holes"
[ "$(io_settings "$sys")" = "$before" ] || fail "I/O settings not restored after the copy by holes"

step "--nobmap: the whole image, the rest of the device untouched"
fill_device "$dev" $((8 * MiB))
expect_exit 0 "$BMAPCOPY" --nobmap "$WORK/image.img.xz" "$dev"
assert_copy_summary
pattern_file "$WORK/expected-nobmap" $((8 * MiB))
dd if="$img" of="$WORK/expected-nobmap" conv=notrunc status=none
assert_device "$dev" "$WORK/expected-nobmap" "--nobmap"
[ "$(io_settings "$sys")" = "$before" ] || fail "I/O settings not restored after --nobmap"

step "a checksum mismatch: exit 1, I/O settings restored"
make_copy_image "$WORK/other.img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$WORK/other.bmap" "$WORK/other.img"
expect_exit 1 "$BMAPCOPY" --bmap "$WORK/other.bmap" "$WORK/image.img.xz" "$dev"
assert_one_line_error "$P"
assert_error_mentions "checksum mismatch"
[ "$(io_settings "$sys")" = "$before" ] || fail "I/O settings not restored after a failed copy"

# ---------------------------------------------------------------------
step "a 1 MiB device for a 6 MiB image: refused as too small, left alone"
truncate -s $MiB "$WORK/disk1"
loop_attach "$WORK/disk1"
small=$LOOP_DEV
small_sys=$LOOP_SYS
detune_loop "$small_sys"
fill_device "$small" $MiB
small_before=$(io_settings "$small_sys")
pattern_file "$WORK/expected1" $MiB
for src in "$WORK/image.img.xz" "$img"; do
	expect_exit 1 "$BMAPCOPY" --bmap "$bmap" "$src" "$small"
	assert_one_line_error "$P"
	assert_error_mentions "too small"
	assert_device "$small" "$WORK/expected1" "a refused small device"
	[ "$(io_settings "$small_sys")" = "$small_before" ] ||
		fail "a refused device's I/O settings changed"
done
step "  likewise by holes"
expect_exit 1 "$BMAPCOPY" "$WORK/holes/image.img" "$small"
assert_one_line_error "$P"
assert_error_mentions "too small"
assert_device "$small" "$WORK/expected1" "a refused small device, by holes"

# ---------------------------------------------------------------------
step "a mounted device: refused as in use, left alone"
truncate -s $((16 * MiB)) "$WORK/disk-fs"
loop_attach "$WORK/disk-fs"
fsdev=$LOOP_DEV
fs_sys=$LOOP_SYS
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$fsdev" >"$WORK/mkfs.log" 2>&1 ||
	{ sed 's/^/  | /' "$WORK/mkfs.log" >&2; fail "mkfs.ext4 failed"; }
mkdir "$WORK/mnt"
mount "$fsdev" "$WORK/mnt" 2>"$WORK/mount.log" ||
	skip "cannot mount an ext4 loop device here: $(head -n 1 "$WORK/mount.log")"
on_cleanup "umount '$WORK/mnt' 2>/dev/null || umount -l '$WORK/mnt' 2>/dev/null"
echo "bmapcopy must not write here" >"$WORK/mnt/canary"
# Read it now, so that reading it later does not update its atime.
cat "$WORK/mnt/canary" >/dev/null
sync
fs_before=$(io_settings "$fs_sys")
sum_before=$(cksum <"$fsdev")
expect_exit 1 "$BMAPCOPY" --bmap "$bmap" "$WORK/image.img.xz" "$fsdev"
assert_one_line_error "$P"
assert_error_mentions "in use\|busy"
[ "$(cksum <"$fsdev")" = "$sum_before" ] || fail "the mounted device was written to"
[ "$(io_settings "$fs_sys")" = "$fs_before" ] || fail "a refused device's I/O settings changed"

step "  likewise by holes and with --nobmap"
expect_exit 1 "$BMAPCOPY" "$WORK/holes/image.img" "$fsdev"
assert_one_line_error "$P"
assert_error_mentions "in use\|busy"
expect_exit 1 "$BMAPCOPY" --nobmap "$img" "$fsdev"
assert_one_line_error "$P"
assert_error_mentions "in use\|busy"
[ "$(cksum <"$fsdev")" = "$sum_before" ] || fail "the mounted device was written to"
[ "$(cat "$WORK/mnt/canary")" = "bmapcopy must not write here" ] ||
	fail "the mounted file system lost a file"

step "after unmounting, the file system is intact"
umount "$WORK/mnt"
e2fsck -fn "$fsdev" >"$WORK/fsck.log" 2>&1 ||
	{ sed 's/^/  | /' "$WORK/fsck.log" >&2; fail "e2fsck finds the file system damaged"; }

echo "PASS"
