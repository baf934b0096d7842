#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What bmapfs returns with verification on is what a checksum covered,
# whatever happens after the check: a seek point loaded from an index
# file whose gzip window was altered (the bytes decoded from it are not
# the image's) costs a decode from an earlier point, never a wrong byte,
# and that index is not kept; an image file changed after its range was
# checked gives EIO, logged once, never the new bytes. The cache is kept
# at its smallest so that served bytes are decoded again after the check.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_cmd gzip gzip

MiB=1048576
img=$WORK/words.img
# 64 MiB of text made of a small vocabulary (deflate's back references
# then reach into the 32 KiB window a seek point keeps), then an 8 MiB
# hole.
/usr/bin/python3 - "$img" <<'PY'
import random, sys
rng = random.Random(8)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz')
                 for _ in range(rng.randint(3, 12))) for _ in range(3000)]
size = 64 << 20
with open(sys.argv[1], 'wb') as f:
    done = 0
    while done < size:
        line = (' '.join(rng.choice(words) for _ in range(12)) + '\n').encode()
        line = line[:size - done]
        f.write(line)
        done += len(line)
    f.truncate(72 << 20)
PY
"$BMAPCREATE" -q -o "$WORK/words.bmap" "$img"
gzip -c "$img" >"$WORK/words.img.gz"
idx=$WORK/index
mkdir -m 0700 "$idx"
mnt=$WORK/mnt

# read_at FILE MIB: 1 MiB of FILE at MIB MiB on standard output.
read_at() {
	dd if="$1" bs=$MiB skip="$2" count=1 status=none
}

# ---------------------------------------------------------------------
step "a first mount learns the gzip seek points and keeps them"
fs_mount "$mnt" --bmap "$WORK/words.bmap" \
	-o index_dir="$idx",cache_size=4M "$WORK/words.img.gz"
cmp "$mnt/words.raw" "$img" || fail "the first mount's bytes are not the image"
fs_umount "$mnt" "$FS_PID"
set -- "$idx"/*.idx
[ $# -eq 1 ] && [ -f "$1" ] || fail "no index file was kept: $(ls -la "$idx")"
index=$1

step "every window of the kept points altered, each still of its length"
/usr/bin/python3 - "$top_srcdir/tests" "$index" <<'PY'
import sys, zlib
sys.path.insert(0, sys.argv[1])
import seekidx
path = sys.argv[2]
prefix, name, nfields, records = seekidx.load(path)
assert name == 'gzip', name
altered = 0
# Record 0 is the file's; then per point out, in, mstart, crc, wraw, bits,
# member, and the compressed window as the blob.
for rec in records[1:]:
    wraw, win = rec[0][4], rec[1]
    if win:
        raw = zlib.decompress(win)
        assert len(raw) == wraw
        # Same length, other letters: back references copy wrong text.
        raw = raw.translate(bytes.maketrans(
            b'abcdefghijklmnopqrstuvwxyz', b'zyxwvutsrqponmlkjihgfedcba'))
        rec[1] = zlib.compress(raw, 6)
        altered += 1
assert altered >= 8, "too few points to alter: %d" % altered
seekidx.save(path, prefix, name, nfields, records)
PY
cp "$index" "$WORK/planted.idx"

step "with the altered points, every byte read is the image's"
fs_mount "$mnt" --bmap "$WORK/words.bmap" \
	-o index_dir="$idx",cache_size=4M "$WORK/words.img.gz"
# The whole 64 MiB range is checked by its first read; the second read
# is decoded again (the cache holds 4 MiB) from a seek point.
read_at "$mnt/words.raw" 1 >"$WORK/got1" ||
	fail "the range failed its check: $(cat "$WORK/bmapfs.log")"
read_at "$img" 1 >"$WORK/want1"
assert_same "$WORK/want1" "$WORK/got1" "1 MiB at 1 MiB"
read_at "$mnt/words.raw" 33 >"$WORK/got33" ||
	fail "1 MiB at 33 MiB could not be read: $(cat "$WORK/bmapfs.log")"
read_at "$img" 33 >"$WORK/want33"
assert_same "$WORK/want33" "$WORK/got33" "1 MiB at 33 MiB"
for m in 50 17 60 5; do
	read_at "$mnt/words.raw" $m >"$WORK/got" ||
		fail "1 MiB at $m MiB could not be read"
	read_at "$img" $m >"$WORK/want"
	assert_same "$WORK/want" "$WORK/got" "1 MiB at $m MiB"
done
cmp "$mnt/words.raw" "$img" || fail "the mount's bytes are not the image's"
fs_umount "$mnt" "$FS_PID"

step "the index that failed is not kept"
if [ -e "$index" ] && cmp -s "$index" "$WORK/planted.idx"; then
	fail "the altered index is still there after the unmount"
fi

step "the next mount reads right, its points learnt again"
fs_mount "$mnt" --bmap "$WORK/words.bmap" \
	-o index_dir="$idx",cache_size=4M "$WORK/words.img.gz"
cmp "$mnt/words.raw" "$img" || fail "the mount's bytes are not the image's"
fs_umount "$mnt" "$FS_PID"

# ---------------------------------------------------------------------
step "an image file changed after its range was checked: EIO, logged once"
plain=$WORK/plain.img
cp --sparse=always "$img" "$plain"
: >"$WORK/bmapfs.log"
fs_mount "$mnt" --bmap "$WORK/words.bmap" -o index_dir=,cache_size=4M "$plain"
raw=$mnt/plain.raw
read_at "$raw" 20 >"$WORK/got20" || fail "the range failed its check"
read_at "$img" 20 >"$WORK/want20"
assert_same "$WORK/want20" "$WORK/got20" "1 MiB at 20 MiB"
# Push the chunk at 20 MiB out of the 4 MiB cache.
for m in 40 41 42 43 44 45 46 47; do
	read_at "$raw" $m >/dev/null || fail "1 MiB at $m MiB could not be read"
done
printf EVIL | dd of="$plain" bs=1 seek=$((20 * MiB)) conv=notrunc status=none
for try in 1 2; do
	# O_DIRECT: past the kernel's page cache of the mount, to bmapfs.
	if dd if="$raw" of="$WORK/evil" bs=4096 skip=$((20 * 256)) count=1 iflag=direct \
	   status=none 2>"$WORK/dd.err"; then
		if head -c 4 "$WORK/evil" | grep -q EVIL; then
			fail "bytes written after the check were returned (try $try)"
		fi
		fail "a read of changed bytes succeeded (try $try)"
	fi
	grep -q "Input/output error" "$WORK/dd.err" ||
		fail "changed bytes did not give EIO: $(cat "$WORK/dd.err")"
done
n=$(grep -c "plain.raw: blocks" "$WORK/bmapfs.log" || :)
[ "$n" -eq 1 ] || { cat "$WORK/bmapfs.log" >&2; fail "the change was logged $n times, not once"; }
grep -q "not those its check saw" "$WORK/bmapfs.log" ||
	{ cat "$WORK/bmapfs.log" >&2; fail "the log line does not say why"; }
fs_umount "$mnt" "$FS_PID"
