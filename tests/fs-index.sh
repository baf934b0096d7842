#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapfs's index folder is only an optimisation and is trusted with
# nothing: a symbolic link planted at an index file's name (or at the
# name its temporary file once had) is never written through; a FIFO
# there does not hang the mount; a folder others can write is ignored
# with one warning; a folder that cannot be made or written (a regular
# file, a read-only file system) costs one warning, not the mount; an
# image rewritten in place with the same size and modification time is
# not matched with its old seek points; an index whose size field lies
# is ignored.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse

# gz_pair RAW_A RAW_B GZ_A GZ_B: gzip RAW_A and RAW_B into two files of
# exactly the same size (the shorter gets a longer name in its header), as
# an image rewritten in place by a tool that keeps the size would be.
gz_pair() {
	/usr/bin/python3 - "$@" <<'PY'
import struct, sys, zlib
def body(path):
    data = open(path, "rb").read()
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return data, c.compress(data) + c.flush()
(a, ba), (b, bb) = body(sys.argv[1]), body(sys.argv[2])
def write(path, data, deflated, namelen):
    head = b"\x1f\x8b\x08\x08\0\0\0\0\0\xff" + b"n" * namelen + b"\0"
    tail = struct.pack("<II", zlib.crc32(data), len(data) & 0xffffffff)
    open(path, "wb").write(head + deflated + tail)
write(sys.argv[3], a, ba, 1 + max(0, len(bb) - len(ba)))
write(sys.argv[4], b, bb, 1 + max(0, len(ba) - len(bb)))
PY
}

# A 16 MiB + 777 image whose last range runs to its end (decoding it
# checks the gzip trailer); gzip's seek points come every 4 MiB.
M=1048576
SIZE=$((16 * M + 777))
RANGES="0:$M $((5 * M)):$M $((9 * M)):$((2 * M)) $((15 * M)):$((M + 777))"
make_sparse "$WORK/a.img" $SIZE "$RANGES"
make_sparse "$WORK/b.img" $SIZE "$RANGES"
"$BMAPCREATE" -q -o "$WORK/a.bmap" "$WORK/a.img"
"$BMAPCREATE" -q -o "$WORK/b.bmap" "$WORK/b.img"
gz_pair "$WORK/a.img" "$WORK/b.img" "$WORK/a.gz" "$WORK/b.gz"
[ "$(stat -c %s "$WORK/a.gz")" = "$(stat -c %s "$WORK/b.gz")" ] ||
	fail "gz_pair made files of different sizes"
img=$WORK/disk.img.gz
cp "$WORK/a.gz" "$img"
idx=$WORK/index
mnt=$WORK/mnt
raw=$mnt/disk.raw

# piece FILE OFFSET LENGTH: LENGTH bytes at OFFSET, as a checksum.
piece() {
	dd if="$1" bs=65536 skip=$(($2 / 65536)) count=$(($3 / 65536 + 1)) \
	   status=none | head -c "$3" | cksum
}

# mount_a [ARGS...]: mount the image with a's bmap and ARGS (default: the
# index in $idx); FS_PID is the daemon.
mount_a() {
	[ $# -gt 0 ] || set -- -o "index_dir=$idx"
	: >"$WORK/bmapfs.log"
	fs_mount "$mnt" --bmap "$WORK/a.bmap" "$@" "$img"
}

# umount_ok: unmount, and the daemon ends with status 0.
umount_ok() {
	fusermount3 -u "$mnt"
	wait_exit "$FS_PID" 10 || fail "bmapfs did not exit on unmount"
	wait "$FS_PID" || fail "bmapfs exited with status $?"
}

# read_tail_then_all WANT: the last range first (through the last seek
# point), then the whole file, are WANT's bytes.
read_tail_then_all() {
	[ "$(piece "$raw" $((15 * M)) $((M + 777)))" = \
	  "$(piece "$1" $((15 * M)) $((M + 777)))" ] ||
		fail "wrong bytes (or EIO) in the last range"
	cmp "$raw" "$1" || fail "the mount differs from $1"
}

# log_is_quiet: the daemon said nothing.
log_is_quiet() {
	if [ -s "$WORK/bmapfs.log" ]; then
		sed 's/^/  | /' "$WORK/bmapfs.log" >&2
		fail "bmapfs said something"
	fi
}

# log_is_one_warning TEXT: the daemon said exactly one line, a warning
# mentioning TEXT (a basic regular expression).
log_is_one_warning() {
	if [ "$(grep -c '' "$WORK/bmapfs.log")" -ne 1 ] ||
	   ! grep -q "^bmapfs: warning: .*$1" "$WORK/bmapfs.log"; then
		sed 's/^/  | /' "$WORK/bmapfs.log" >&2
		fail "expected one 'bmapfs: warning: ...$1...' line"
	fi
}

step "a first mount keeps the seek points in a folder of its own (0700)"
mount_a
read_tail_then_all "$WORK/a.img"
umount_ok
log_is_quiet
[ "$(stat -c %a "$idx")" = 700 ] || fail "index folder mode $(stat -c %a "$idx")"
set -- "$idx"/*.idx
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one index file in $idx: $*"
name=$(basename "$1")
[ "$(stat -c %a "$1")" = 600 ] || fail "index file mode $(stat -c %a "$1")"
cp "$1" "$WORK/good.idx"

step "symbolic links at the temporary and the index file's names"
echo "precious" >"$WORK/victim1"
echo "precious too" >"$WORK/victim2"
before1=$(file_state "$WORK/victim1")
before2=$(file_state "$WORK/victim2")
rm "$idx/$name"
mount_a
ln -s "$WORK/victim1" "$idx/$name.$FS_PID.tmp"
ln -s "$WORK/victim2" "$idx/$name"
read_tail_then_all "$WORK/a.img"
umount_ok
[ "$(file_state "$WORK/victim1")" = "$before1" ] ||
	fail "unmounting wrote through a link at the temporary name"
[ "$(file_state "$WORK/victim2")" = "$before2" ] ||
	fail "unmounting wrote through a link at the index name"
[ -f "$idx/$name" ] && [ ! -L "$idx/$name" ] ||
	fail "the index was not saved in place of the link"
log_is_quiet
rm -f "$idx/$name.$FS_PID.tmp"

step "a FIFO at the index file's name does not hang the mount"
rm "$idx/$name"
mkfifo "$idx/$name"
rc=0
timeout 20 "$BMAPFS" --bmap "$WORK/a.bmap" -o "index_dir=$idx" "$img" \
	"$mnt" 2>"$WORK/stderr" || rc=$?
[ "$rc" -ne 124 ] || fail "bmapfs hung on a FIFO in the index folder"
[ "$rc" -eq 0 ] || { cat "$WORK/stderr" >&2; fail "bmapfs exited with $rc"; }
on_cleanup "mountpoint -q '$mnt' && fusermount3 -uz '$mnt'"
assert_stderr_empty
read_tail_then_all "$WORK/a.img"
fusermount3 -u "$mnt"
# The daemon saves the index as it ends, in place of the FIFO.
i=0
while [ ! -f "$idx/$name" ]; do
	[ "$i" -lt 100 ] || fail "no index saved in place of the FIFO"
	sleep 0.1
	i=$((i + 1))
done

step "a folder others can write is not used, with one warning"
for mode in 1777 0770 0702; do
	rm -rf "$idx"
	mkdir -m "$mode" "$idx"
	cp "$WORK/good.idx" "$idx/$name"
	mount_a
	read_tail_then_all "$WORK/a.img"
	umount_ok
	log_is_one_warning "$idx"
	cmp -s "$WORK/good.idx" "$idx/$name" ||
		fail "mode $mode: the index was written in a folder others can write"
	[ "$(ls -A "$idx" | wc -l)" -eq 1 ] ||
		fail "mode $mode: files were made in a folder others can write"
done
rm -rf "$idx"

step "a folder that cannot be made or written: one warning, still mounted"
: >"$WORK/plain-file"
for dir in "$WORK/plain-file" "$WORK/plain-file/sub"; do
	mount_a -o "index_dir=$dir"
	read_tail_then_all "$WORK/a.img"
	umount_ok
	log_is_one_warning "$dir"
	[ -f "$WORK/plain-file" ] && [ ! -s "$WORK/plain-file" ] ||
		fail "index_dir=$dir: the regular file was changed"
done
ro=$WORK/ro
mkdir "$ro"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs "$ro" 2>/dev/null; then
	on_cleanup "umount '$ro'"
	mkdir -m 0700 "$ro/bmapfs"
	mount -o remount,ro "$ro" || fail "cannot make $ro read-only"
	mount_a -o "index_dir=$ro/bmapfs"
	read_tail_then_all "$WORK/a.img"
	umount_ok
	log_is_one_warning "$ro/bmapfs"
	step "a HOME on a read-only file system (the default folder)"
	: >"$WORK/bmapfs.log"
	old_home=$HOME
	HOME=$ro
	export HOME
	unset XDG_CACHE_HOME
	fs_mount "$mnt" --bmap "$WORK/a.bmap" "$img"
	HOME=$old_home
	read_tail_then_all "$WORK/a.img"
	umount_ok
	log_is_one_warning "$ro/.cache/bmapfs"
else
	echo "not root or no tmpfs mount: the read-only file system check is not run"
fi

step "an image rewritten in place, same size and time, is not matched"
mount_a
read_tail_then_all "$WORK/a.img"
umount_ok
touch -r "$img" "$WORK/time"
ino=$(stat -c %i "$img")
dd if="$WORK/b.gz" of="$img" conv=notrunc status=none
touch -r "$WORK/time" "$img"
[ "$(stat -c %i.%s.%.9Y "$img")" = "$ino.$(stat -c %s "$WORK/a.gz").$(stat -c %.9Y "$WORK/time")" ] ||
	fail "the rewrite changed the inode, the size or the time"
: >"$WORK/bmapfs.log"
fs_mount "$mnt" --bmap "$WORK/b.bmap" -o "index_dir=$idx" "$img"
read_tail_then_all "$WORK/b.img"
umount_ok
log_is_quiet
cp "$WORK/a.gz" "$img"

step "an index whose image size field lies is ignored"
rm -rf "$idx"
mount_a
read_tail_then_all "$WORK/a.img"
umount_ok
set -- "$idx"/*.idx
[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one index file in $idx: $*"
# The image size is field 1 of the file's record (the first), re-encoded
# with the list's checksum so that only gzip's own checks see the lie.
image_size() {
	/usr/bin/python3 - "$top_srcdir/tests" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import seekidx
prefix, name, nfields, records = seekidx.load(sys.argv[2])
if len(sys.argv) > 3:
    records[0][0][1] = int(sys.argv[3])
    seekidx.save(sys.argv[2], prefix, name, nfields, records)
print(records[0][0][1])
PY
}
image_size "$1" 99999999999 >/dev/null
mount_a
read_tail_then_all "$WORK/a.img"
umount_ok
log_is_quiet
# Saved again, points relearnt: the size is right (or unknown) now.
size=$(image_size "$1")
[ "$size" = $SIZE ] || [ "$size" = 18446744073709551615 ] ||
	fail "the index was saved back with image size $size"
