#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapfs's command line and its failures: help and version; a missing
# image, bmap or mount point, a bad option value, an image whose size its
# bmap contradicts: one error line on the terminal, exit 1 (2 for usage),
# nothing mounted. A range whose data fails its checksum gives EIO to
# every read touching it, is logged once, and the other ranges still
# read; -o noverify returns the data as it is; a corrupt stream gives EIO
# and the daemon lives on; unmounting with a reader busy does not hang.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_fuse
need_cmd gzip gzip
need_cmd xz xz-utils
need_cmd zstd zstd

B=4096
img=$WORK/disk.img
make_copy_image "$img" $B
"$BMAPCREATE" -q -o "$img.bmap" "$img"
xz -c --block-size=64KiB "$img" >"$WORK/disk.img.xz"
cp "$img.bmap" "$WORK/disk.img.xz.bmap"
mnt=$WORK/mnt
mkdir "$mnt"
# Should a refused mount happen all the same, it must not outlive the test.
on_cleanup "mountpoint -q '$mnt' && fusermount3 -uz '$mnt'"

step "--help and --version"
expect_exit 0 "$BMAPFS" --help
grep -q "^Usage: bmapfs" "$WORK/stdout" || fail "--help prints no usage"
grep -q "index_dir" "$WORK/stdout" || fail "--help does not list -o index_dir"
expect_exit 0 "$BMAPFS" -V
grep -q "^bmapfs " "$WORK/stdout" || fail "-V prints no version"

# refused ARGS...: exit 1, one error line, nothing mounted.
refused() {
	expect_exit 1 "$BMAPFS" "$@"
	assert_one_line_error bmapfs
	! mountpoint -q "$mnt" || fail "mounted anyway: $*"
}

step "a missing image, bmap or mount point"
refused "$WORK/nonexistent.xz" "$mnt"
refused --bmap "$WORK/nonexistent.bmap" "$WORK/disk.img.xz" "$mnt"
cp "$WORK/disk.img.xz" "$WORK/lonely.xz"
refused "$WORK/lonely.xz" "$mnt"
assert_error_mentions "no bmap"
refused "$WORK/disk.img.xz" "$WORK/no-such-dir"
refused "$WORK/disk.img.xz" "$img"
echo "<bmap version='2.0'><ImageSize>x" >"$WORK/bad.bmap"
refused --bmap "$WORK/bad.bmap" "$WORK/disk.img.xz" "$mnt"
# libxml2's own messages on bytes not in the declared encoding must not
# reach stderr (refused checks there is one line).
# shellcheck disable=SC2016 # an escape sequence, not an expansion
printf '<?xml version="1.0" encoding="ISO-2022-JP"?>\n<bmap version="1.2"><ImageSize>\033$B\377\377</ImageSize></bmap>\n' \
	>"$WORK/jis.bmap"
refused --bmap "$WORK/jis.bmap" "$WORK/disk.img.xz" "$mnt"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<bmap version="1.2"><ImageSize>\377\376</ImageSize></bmap>\n' \
	>"$WORK/utf8.bmap"
refused --bmap "$WORK/utf8.bmap" "$WORK/disk.img.xz" "$mnt"
printf 'not an image at all' >"$WORK/junk"
refused --bmap "$img.bmap" "$WORK/junk" "$mnt"

step "an image whose size its bmap contradicts (the xz index tells)"
head -c 4096 /dev/urandom >"$WORK/small.img"
xz -c "$WORK/small.img" >"$WORK/small.img.xz"
xz -c --block-size=1KiB "$WORK/small.img" >"$WORK/small-blocks.img.xz"
refused --bmap "$img.bmap" "$WORK/small-blocks.img.xz" "$mnt"

step "a bmap whose ImageSize does not fit in off_t (2^63 bytes)"
# Self-consistent but for the size; a gzip stream cannot tell its size, so
# only the bmap reader can refuse it.
gzip -c "$WORK/small.img" >"$WORK/small.img.gz"
refused --bmap "$DATADIR/size-2e63.bmap" "$WORK/small.img.gz" "$mnt"
assert_error_mentions "ImageSize" "too large"

step "usage errors: no mount point, a bad cache_size, unknown options"
# libfuse's own complaints come out as ours too.
for args in "$WORK/disk.img.xz" \
	    "-o cache_size=lots $WORK/disk.img.xz $mnt" \
	    "-o nosuchoption $WORK/disk.img.xz $mnt" \
	    "--frobnicate $WORK/disk.img.xz $mnt" \
	    "$WORK/disk.img.xz $mnt one-too-many" \
	    "- $mnt" \
	    "--bmap"; do
	# shellcheck disable=SC2086 # split on purpose
	expect_exit 2 "$BMAPFS" $args
	assert_usage_error bmapfs
	! mountpoint -q "$mnt" || fail "mounted anyway: $args"
done

# ---------------------------------------------------------------------
step "a range whose data is wrong: EIO on it alone, logged once"
# Blocks 300-339 of the image are changed before packing; the bmap is
# the good image's.
cp "$img" "$WORK/bad.img"
flip_byte "$WORK/bad.img" $((310 * B + 7))
zstd -q -c "$WORK/bad.img" >"$WORK/bad.img.zst"
fs_mount "$mnt" --bmap "$img.bmap" -o index_dir= "$WORK/bad.img.zst"
raw=$mnt/bad.raw
for try in 1 2; do
	if dd if="$raw" of=/dev/null bs=$B skip=339 count=1 status=none \
	   2>"$WORK/dd.err"; then
		fail "reading a block of the bad range succeeded (try $try)"
	fi
	grep -q "Input/output error" "$WORK/dd.err" ||
		fail "the bad range did not give EIO: $(cat "$WORK/dd.err")"
done
for r in 0 16-18 1020-1031 1536; do
	first=${r%-*}
	dd if="$raw" bs=$B skip="$first" count=1 status=none >"$WORK/got" ||
		fail "block $first, in a good range, could not be read"
	dd if="$img" bs=$B skip="$first" count=1 status=none >"$WORK/want"
	assert_same "$WORK/want" "$WORK/got" "block $first"
done
# Holes around the bad range read as zeros.
dd if="$raw" bs=$B skip=299 count=1 status=none | cmp -s -n $B - /dev/zero ||
	fail "the hole before the bad range is not zeros"
n=$(grep -c "blocks 300-339" "$WORK/bmapfs.log" || :)
[ "$n" -eq 1 ] || { cat "$WORK/bmapfs.log" >&2; fail "the bad range was logged $n times, not once"; }
# The one mismatch message, bmapcopy's too (tests/copy-failures.sh).
grep -q "^bmapfs: error: bad.raw: checksum mismatch in blocks 300-339: the bmap says sha1 [0-9a-f]\{40\}, the image has [0-9a-f]\{40\}\$" \
	"$WORK/bmapfs.log" || { cat "$WORK/bmapfs.log" >&2; fail "the log line does not name the range"; }
fusermount3 -u "$mnt"
wait_exit "$FS_PID" 10 || fail "bmapfs did not exit"

step "-o noverify returns the data as it is"
fs_mount "$mnt" --bmap "$img.bmap" -o noverify,index_dir= "$WORK/bad.img.zst"
cmp "$mnt/bad.raw" "$WORK/bad.img" || fail "noverify: not the packed bytes"
fusermount3 -u "$mnt"
wait_exit "$FS_PID" 10 || fail "bmapfs did not exit"

step "-o allow_other: the mount is as readable as the image, no more"
need_cmd setpriv util-linux
# as_nobody CMD...: run CMD as an unprivileged user.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
# The mount point where another user can reach it (the work folder may
# be inside a private one).
pub=$(mktemp -d /tmp/bmapfs-access.XXXXXX)
chmod 755 "$pub"
on_cleanup "rmdir '$pub/mnt' '$pub' 2>/dev/null || :"
if as_nobody test -x "$pub"; then
	for mode in 644 600; do
		chmod $mode "$WORK/disk.img.xz"
		fs_mount "$pub/mnt" --bmap "$img.bmap" -o allow_other,index_dir= \
			"$WORK/disk.img.xz"
		if as_nobody cat "$pub/mnt/disk.raw" >/dev/null 2>"$WORK/cat.err"; then
			[ $mode = 644 ] ||
				fail "another user read the mount of a $mode image"
		else
			[ $mode = 600 ] ||
				fail "another user could not read the mount of a $mode image: $(cat "$WORK/cat.err")"
			grep -q "Permission denied" "$WORK/cat.err" ||
				fail "not refused for permission: $(cat "$WORK/cat.err")"
		fi
		fusermount3 -u "$pub/mnt"
		wait_exit "$FS_PID" 10 || fail "bmapfs did not exit"
	done
else
	echo "NOTE: another user cannot reach $pub: allow_other not checked"
fi

# ---------------------------------------------------------------------
step "a corrupt stream: EIO, and the daemon lives on"
cp "$WORK/disk.img.xz" "$WORK/corrupt.img.xz"
size=$(stat -c %s "$WORK/corrupt.img.xz")
flip_byte "$WORK/corrupt.img.xz" $((size / 2))
fs_mount "$mnt" --bmap "$img.bmap" -o index_dir= "$WORK/corrupt.img.xz"
if cat "$mnt/corrupt.raw" >/dev/null 2>"$WORK/cat.err"; then
	fail "reading a corrupt stream succeeded"
fi
grep -q "Input/output error" "$WORK/cat.err" ||
	fail "a corrupt stream did not give EIO: $(cat "$WORK/cat.err")"
kill -0 "$FS_PID" || fail "bmapfs died on a corrupt stream"
dd if="$mnt/corrupt.raw" bs=$B count=1 status=none >"$WORK/got" ||
	fail "block 0 could not be read"
dd if="$img" bs=$B count=1 status=none | cmp -s - "$WORK/got" ||
	fail "block 0 is wrong"
# Every EIO is logged, each failing range once.
cat "$mnt/corrupt.raw" >/dev/null 2>&1 && fail "a second read succeeded"
grep "corrupt.raw: blocks" "$WORK/bmapfs.log" >"$WORK/logged" ||
	{ cat "$WORK/bmapfs.log" >&2; fail "the EIO was not logged with its range"; }
[ -z "$(sort "$WORK/logged" | uniq -d)" ] ||
	{ cat "$WORK/bmapfs.log" >&2; fail "a failing range was logged twice"; }

fusermount3 -u "$mnt"
wait_exit "$FS_PID" 10 || fail "bmapfs did not exit"

step "a corrupt stream with -o noverify: EIO too, logged once a range"
: >"$WORK/bmapfs.log"
fs_mount "$mnt" --bmap "$img.bmap" -o noverify,index_dir= "$WORK/corrupt.img.xz"
for try in 1 2; do
	if cat "$mnt/corrupt.raw" >/dev/null 2>"$WORK/cat.err"; then
		fail "reading a corrupt stream succeeded (noverify, try $try)"
	fi
done
grep "corrupt.raw: blocks" "$WORK/bmapfs.log" >"$WORK/logged" ||
	{ cat "$WORK/bmapfs.log" >&2; fail "noverify: the EIO was not logged"; }
[ -z "$(sort "$WORK/logged" | uniq -d)" ] ||
	{ cat "$WORK/bmapfs.log" >&2; fail "noverify: a range was logged twice"; }

step "unmounting with a reader busy does not hang"
( exec 3<"$mnt/corrupt.raw"; sleep 30 ) &
holder=$!
sleep 0.3
if timeout 10 fusermount3 -u "$mnt" 2>/dev/null; then
	:	# some kernels let it go
else
	[ $? -ne 124 ] || fail "fusermount3 -u hung with a reader busy"
	timeout 10 fusermount3 -uz "$mnt" || fail "a lazy unmount failed"
fi
kill "$holder" 2>/dev/null || :
wait "$holder" 2>/dev/null || :
wait_exit "$FS_PID" 10 || fail "bmapfs did not exit after the unmount"
