#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapfs mounts a disk image in every packing bmapcopy reads (seekable
# ones with several seek points and with one) as NAME.raw: the same bytes
# as the image, read in order and out of order; the holes of its bmap
# through SEEK_DATA/SEEK_HOLE (so bmapcreate and the reference bmaptool
# see them); st_blocks; read-only; seek points kept for a second mount;
# several readers at once.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_cmd pigz pigz
need_cmd lbzip2 lbzip2
need_cmd xz xz-utils
need_cmd zstd zstd
need_cmd lz4 lz4
need_cmd lzop lzop
need_cmd zip zip

step "make a 48 MiB disk image with an ext4 file system"
make_tree "$WORK/tree"
img=$WORK/disk.img
make_disk_image "$img" "$WORK/tree"
mapped=0
for e in $(bmap_extents "$img.bmap"); do
	mapped=$((mapped + ${e#*-} - ${e%-*}))
done

# pack KIND DIR: the image packed as KIND in DIR, under the file name the
# test mounts (its NAME.raw is checked against the rule of bmapfs(1)).
pack() {
	mkdir -p "$2"
	case $1 in
	raw)	cp --sparse=always "$img" "$2/disk.img" ;;
	gz)	pigz -6 -c "$img" >"$2/disk.img.gz" ;;
	bz2)	# 100 kB blocks: dozens of them
		lbzip2 -1 -c "$img" >"$2/image.bz2" ;;
	xz)	xz -6 --block-size=1MiB -T2 -c "$img" >"$2/disk.img.xz" ;;
	xz1)	xz -1 -c "$img" >"$2/single.img.xz" ;;
	zst)	# one frame per 4 MiB piece, concatenated: a valid stream
		split -b 4M --filter='zstd -q -3 -c' "$img" \
			>"$2/core-image.wic.zst" ;;
	zst1)	zstd -q -3 -c "$img" >"$2/single.zst" ;;
	lz4)	lz4 -q -c "$img" >"$2/disk.img.lz4" ;;
	lzo)	lzop -c "$img" >"$2/disk.img.lzo" ;;
	tgz)	tar -C "$WORK" -cf - disk.img | pigz -c >"$2/disk.tar.gz" ;;
	zip)	(cd "$WORK" && zip -q "$2/disk.zip" disk.img) ;;
	esac
}

# name_of KIND: the NAME.raw bmapfs must show for pack's file.
name_of() {
	case $1 in
	bz2)	echo image.raw ;;
	xz1|zst1) echo single.raw ;;
	zst)	echo core-image.wic.raw ;;
	*)	echo disk.raw ;;
	esac
}

# piece FILE OFFSET LENGTH: LENGTH bytes at OFFSET, as a checksum.
piece() {
	dd if="$1" bs=4096 skip=$(($2 / 4096)) count=$(($3 / 4096)) \
	   status=none | cksum
}

# readers FILE: four readers at once over different parts of FILE, each
# compared with the image.
readers() {
	for r in 0 1 2 3; do
		(
			off=$(( (r * 11 + 3) * 1048576 ))
			[ "$(piece "$1" $off 8388608)" = \
			  "$(piece "$img" $off 8388608)" ] || exit 1
		) &
		eval "pid$r=\$!"
	done
	for r in 0 1 2 3; do
		eval "wait \$pid$r" || fail "reader $r got wrong bytes from $1"
	done
}

idx=$WORK/index
for kind in raw gz bz2 xz xz1 zst zst1 lz4 lzo tgz zip; do
	dir=$WORK/$kind
	mnt=$WORK/mnt-$kind
	pack "$kind" "$dir"
	file=$(ls "$dir")
	name=$(name_of "$kind")

	step "$kind: mount $file"
	fs_mount "$mnt" --bmap "$img.bmap" -o "index_dir=$idx" "$dir/$file"
	[ "$(ls "$mnt")" = "$name" ] ||
		fail "$kind: the mount holds '$(ls "$mnt")', not $name"
	raw=$mnt/$name

	step "$kind: out-of-order reads, then the whole file"
	for off in 41943040 0 8388608 2097152 45088768 1048576; do
		[ "$(piece "$raw" $off 1048576)" = \
		  "$(piece "$img" $off 1048576)" ] ||
			fail "$kind: wrong bytes at $off"
	done
	cmp "$raw" "$img" || fail "$kind: $name differs from the image"

	step "$kind: holes, st_blocks, size"
	hole_walk "$raw" >"$WORK/walk"
	bmap_extents "$img.bmap" >"$WORK/want"
	assert_same "$WORK/want" "$WORK/walk" "$kind: SEEK_DATA/SEEK_HOLE walk"
	[ "$(stat -c %s "$raw")" = "$(stat -c %s "$img")" ] ||
		fail "$kind: wrong size"
	[ "$(stat -c %b "$raw")" = $(((mapped + 511) / 512)) ] ||
		fail "$kind: st_blocks $(stat -c %b "$raw"), want $(((mapped + 511) / 512))"
	"$BMAPCREATE" -q -o "$WORK/again.bmap" "$raw"
	assert_same_ranges "$img.bmap" "$WORK/again.bmap" \
		"$kind: bmapcreate on the mount"

	step "$kind: read-only"
	if (: >"$raw") 2>/dev/null; then
		fail "$kind: $name could be opened for writing"
	fi
	if touch "$mnt/new" 2>/dev/null; then
		fail "$kind: a file could be made in the mount"
	fi

	if [ "$kind" = gz ] || [ "$kind" = lz4 ] || [ "$kind" = xz ]; then
		step "$kind: several readers at once"
		fusermount3 -u "$mnt"
		wait_exit "$FS_PID" 10 || fail "$kind: bmapfs did not exit"
		fs_mount "$mnt" --bmap "$img.bmap" -o "index_dir=$idx" \
			"$dir/$file"
		readers "$raw"
	fi

	fusermount3 -u "$mnt"
	wait_exit "$FS_PID" 10 || fail "$kind: bmapfs did not exit on unmount"
	wait "$FS_PID" || fail "$kind: bmapfs exited with status $?"
done

step "gz and bz2 kept their seek points, and a second mount uses them"
n=$(find "$idx" -name '*.idx' | wc -l)
[ "$n" -ge 2 ] || fail "expected at least 2 index files in $idx, found $n"
for kind in gz bz2; do
	dir=$WORK/$kind
	file=$(ls "$dir")
	fs_mount "$WORK/mnt2-$kind" --bmap "$img.bmap" -o "index_dir=$idx" \
		"$dir/$file"
	raw=$WORK/mnt2-$kind/$(name_of "$kind")
	[ "$(piece "$raw" 41943040 1048576)" = \
	  "$(piece "$img" 41943040 1048576)" ] ||
		fail "$kind: wrong bytes on the second mount"
done

if [ -n "$BMAPTOOL" ] && [ -x "$BMAPTOOL" ]; then
	step "the reference bmaptool sees the holes of a mount"
	# Through a link: bmaptool makes a scratch file beside the image it
	# scans, which a read-only mount does not allow.
	ln -s "$raw" "$WORK/link.raw"
	"$BMAPTOOL" create -o "$WORK/ref.bmap" "$WORK/link.raw" 2>"$WORK/ref.err" ||
		{ cat "$WORK/ref.err" >&2; fail "bmaptool create failed"; }
	assert_same_ranges "$img.bmap" "$WORK/ref.bmap" "bmaptool create"
else
	echo "the reference bmaptool is missing: its check is not run"
fi

step "the daemons said nothing: no warning, no error"
if [ -s "$WORK/bmapfs.log" ]; then
	sed 's/^/  | /' "$WORK/bmapfs.log" >&2
	fail "bmapfs wrote to its standard error"
fi
