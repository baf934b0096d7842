#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapfs on images that are not quite what their bmap says:
#  - a bzip2 image shorter than its bmap's ImageSize (the rest is a hole
#    the bmap maps nothing in) reads right everywhere, out of order, with
#    and without verification: the size the bmap gives never places a
#    block;
#  - a truncated xz (several blocks) or zstd (several frames) image mounts
#    as truncated gz, bz2 and lz4 ones do: the ranges before the cut read
#    right, reads after it give EIO ("truncated xz data", "truncated zstd
#    data" in the log).

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_cmd bzip2 bzip2
need_cmd xz xz-utils
need_cmd zstd zstd

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

# ---------------------------------------------------------------------
# truncated KIND FILE: FILE cut in half mounts; every extent of the image
# wholly before the bytes the cut file still decodes to (less the partial
# MiB there: bmapfs decodes whole MiB chunks) reads right, and every one
# wholly after them gives EIO, with "truncated KIND data" logged.
truncated() {
	kind=$1
	cut=$WORK/cut.img.${2##*.}
	size=$(stat -c %s "$2")
	head -c $((size / 2)) "$2" >"$cut"
	case $kind in
	xz)	good=$(xz -dc "$cut" 2>/dev/null | wc -c) ;;
	zstd)	good=$(zstd -qdc "$cut" 2>/dev/null | wc -c) ;;
	esac
	whole=$((good / 1048576 * 1048576))
	mnt=$WORK/mnt-$kind
	: >"$WORK/bmapfs.log"
	fs_mount "$mnt" --bmap "$img.bmap" -o index_dir= "$cut"
	raw=$mnt/cut.raw
	before=0 after=0
	for e in $(bmap_extents "$img.bmap"); do
		s=${e%-*} end=${e#*-}
		if [ "$end" -le "$whole" ]; then
			dd if="$raw" bs=4096 skip=$((s / 4096)) \
			   count=$(((end - s) / 4096)) status=none \
			   >"$WORK/got" ||
				fail "$kind: extent $e, before the cut, unreadable"
			dd if="$img" bs=4096 skip=$((s / 4096)) \
			   count=$(((end - s) / 4096)) status=none >"$WORK/want"
			assert_same "$WORK/want" "$WORK/got" "$kind: extent $e"
			before=$((before + 1))
		elif [ "$s" -ge "$good" ]; then
			if dd if="$raw" bs=4096 skip=$((s / 4096)) count=1 \
			   status=none of=/dev/null 2>"$WORK/dd.err"; then
				fail "$kind: extent $e, after the cut, read"
			fi
			grep -q "Input/output error" "$WORK/dd.err" ||
				fail "$kind: extent $e: $(cat "$WORK/dd.err")"
			after=$((after + 1))
		fi
	done
	[ "$before" -ge 1 ] && [ "$after" -ge 1 ] ||
		fail "$kind: the cut left $before extents before, $after after"
	grep -q "truncated $kind data" "$WORK/bmapfs.log" ||
		{ cat "$WORK/bmapfs.log" >&2; fail "$kind: no 'truncated $kind data' logged"; }
	kill -0 "$FS_PID" || fail "$kind: bmapfs died"
	fs_umount "$mnt" "$FS_PID"
}

step "xz: a multi-block file cut in the middle mounts"
xz -6 --block-size=1MiB -T2 -c "$img" >"$WORK/disk.img.xz"
truncated xz "$WORK/disk.img.xz"

step "zstd: a multi-frame file cut in the middle mounts"
split -b 4M --filter='zstd -q -3 -c' "$img" >"$WORK/disk.img.zst"
truncated zstd "$WORK/disk.img.zst"
