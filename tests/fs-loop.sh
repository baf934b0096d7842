#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Looking inside an image and flashing it through bmapfs: the ext4 file
# system inside a mounted xz image is loop-mounted read-only and its files
# read back exact; the image is flashed from the mount with bmapcopy onto
# a pattern-filled loop device, and only the mapped blocks change.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_loop
need_cmd xz xz-utils
need_cmd mount mount

step "make a disk image with an ext4 file system, pack it with xz"
make_tree "$WORK/tree"
img=$WORK/disk.img
make_disk_image "$img" "$WORK/tree"
xz -T2 --block-size=1MiB -c "$img" >"$WORK/disk.img.xz"
cp "$img.bmap" "$WORK/disk.img.xz.bmap"

step "mount it with bmapfs (the bmap found beside it)"
mnt=$WORK/mnt
fs_mount "$mnt" -o "index_dir=$WORK/index" "$WORK/disk.img.xz"
raw=$mnt/disk.raw

step "loop-mount the ext4 file system inside, read-only"
dev=$(losetup -r -f --show -o $FS_OFFSET --sizelimit $FS_SIZE "$raw") ||
	fail "losetup could not attach $raw"
on_cleanup "losetup -d '$dev' 2>/dev/null"
root=$WORK/root
mkdir "$root"
mount -o ro -t ext4 "$dev" "$root" || fail "mount -o ro $dev failed"
on_cleanup "mountpoint -q '$root' && umount '$root'"
diff -r "$WORK/tree" "$root" -x lost+found ||
	fail "the files inside the image differ from the ones put there"
cmp "$WORK/tree/sub/random-3M.bin" "$root/sub/random-3M.bin" ||
	fail "the 3 MB file reads back wrong"
umount "$root"
losetup -d "$dev"

step "flash the image from the mount onto a pattern-filled loop device"
size=$(stat -c %s "$img")
pattern_file "$WORK/target" "$size"
loop_attach "$WORK/target"
"$top_builddir/src/bmapcopy" -q "$raw" "$LOOP_DEV" ||
	fail "bmapcopy from the mount failed"
# The mapped blocks are the image's; every other block still the pattern.
pattern_file "$WORK/expect" "$size"
overlay_ranges "$img.bmap" "$img" "$WORK/expect"
sync
cmp "$LOOP_DEV" "$WORK/expect" ||
	fail "the device holds more or less than the image's mapped blocks"
