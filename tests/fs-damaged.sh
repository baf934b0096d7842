#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapfs on images that are not quite what their bmap says:
#  - a bzip2 image shorter than its bmap's ImageSize (the rest is a hole
#    the bmap maps nothing in) reads right everywhere, out of order, with
#    and without verification: the size the bmap gives never places a
#    block.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_cmd bzip2 bzip2

step "make a 48 MiB disk image with an ext4 file system"
make_tree "$WORK/tree"
img=$WORK/disk.img
make_disk_image "$img" "$WORK/tree"
idx=$WORK/index

# piece FILE OFFSET LENGTH: LENGTH bytes at OFFSET, as a checksum.
piece() {
	dd if="$1" bs=4096 skip=$(($2 / 4096)) count=$(($3 / 4096)) \
	   status=none | cksum
}

# ---------------------------------------------------------------------
step "bz2: an image 4 MiB shorter than its bmap's ImageSize"
cp --sparse=always "$img" "$WORK/long.img"
truncate -s +4M "$WORK/long.img"
"$BMAPCREATE" -q -o "$WORK/long.bmap" "$WORK/long.img"
bzip2 -1 -c "$img" >"$WORK/short.img.bz2"
for opts in index_dir= noverify,index_dir= index_dir=$idx; do
	mnt=$WORK/mnt-bz2
	fs_mount "$mnt" --bmap "$WORK/long.bmap" -o "$opts" \
		"$WORK/short.img.bz2"
	raw=$mnt/short.raw
	# The far end first: where blocks counted from a wrong end would be.
	for off in 41943040 43008000 20971520 1048576 0; do
		[ "$(piece "$raw" $off 1048576)" = \
		  "$(piece "$WORK/long.img" $off 1048576)" ] ||
			fail "bz2 ($opts): wrong bytes or an error at $off"
	done
	cmp "$raw" "$WORK/long.img" || fail "bz2 ($opts): short.raw differs"
	fs_umount "$mnt" "$FS_PID"
done
! grep -q "error" "$WORK/bmapfs.log" ||
	{ cat "$WORK/bmapfs.log" >&2; fail "bz2: bmapfs logged an error"; }
