#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcreate on a file where FIEMAP does not work (a FUSE file) finds the
# holes with lseek(SEEK_DATA/SEEK_HOLE) and writes the same bmap as on the
# backing file.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

FUSE_SPARSE=$top_builddir/tests/fuse-sparse
[ -x "$FUSE_SPARSE" ] || fail "$FUSE_SPARSE is not built"
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed (fuse3)"
command -v mountpoint >/dev/null || skip "mountpoint is not installed (util-linux)"

B=$(fs_block_size "$WORK")
img=$WORK/sparse.img
mnt=$WORK/mnt
fimg=$mnt/image

# Blocks 0, 3-5, 9 (5 bytes inside it), 20-27 and the partial last block 40.
make_sparse "$img" $((40 * B + 300)) \
	"0:$B $((3 * B)):$((3 * B)) $((9 * B + 17)):5 $((20 * B)):$((8 * B)) $((40 * B)):300"
want="0
3-5
9
20-27
40"

# ---------------------------------------------------------------------
# The mount: started in the foreground as a background job, waited for by
# polling, always unmounted and reaped on exit.

FUSE_PID=

fuse_stop() {
	if mountpoint -q "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || :
	fi
	[ -n "$FUSE_PID" ] || return 0
	i=0
	while kill -0 "$FUSE_PID" 2>/dev/null && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill "$FUSE_PID" 2>/dev/null || :
	wait "$FUSE_PID" 2>/dev/null || :
	FUSE_PID=
}

step "mount $FUSE_SPARSE on $mnt"
mkdir "$mnt"
"$FUSE_SPARSE" "$img" "$mnt" -f >"$WORK/fuse.log" 2>&1 &
FUSE_PID=$!
on_cleanup fuse_stop

i=0
while ! mountpoint -q "$mnt"; do
	if ! kill -0 "$FUSE_PID" 2>/dev/null; then
		rc=0
		wait "$FUSE_PID" || rc=$?
		FUSE_PID=
		if grep -qi -e 'permission denied' -e 'operation not permitted' \
			    -e 'device not found' -e '/dev/fuse' "$WORK/fuse.log"; then
			skip "cannot mount a FUSE file system here: $(head -n 1 "$WORK/fuse.log")"
		fi
		sed 's/^/  | /' "$WORK/fuse.log" >&2
		fail "fuse-sparse exited with status $rc before mounting"
	fi
	[ "$i" -lt 100 ] || fail "fuse-sparse did not mount within 10 s"
	sleep 0.1
	i=$((i + 1))
done

step "the FUSE file has the backing file's size and bytes"
[ "$(stat -c %s "$fimg")" -eq "$(stat -c %s "$img")" ] ||
	fail "the FUSE file's size differs"
cmp "$img" "$fimg" || fail "the FUSE file's bytes differ"

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3 || :)
if [ -n "$PYTHON" ]; then
	step "FIEMAP fails on the FUSE file"
	"$PYTHON" - "$fimg" <<'EOF' || fail "FIEMAP answered on the FUSE file"
import fcntl, os, struct, sys
FS_IOC_FIEMAP = 0xC020660B
fd = os.open(sys.argv[1], os.O_RDONLY)
req = bytearray(struct.pack("=QQLLLL", 0, 2**64 - 1, 1, 0, 0, 0))
try:
    fcntl.ioctl(fd, FS_IOC_FIEMAP, req)
except OSError as e:
    print("   FIEMAP: %s" % e.strerror)
    sys.exit(0)
sys.exit(1)
EOF
fi

# ---------------------------------------------------------------------
step "the backing file and the FUSE file have the same block size"
expect_exit 0 "$BMAPCREATE" -o "$WORK/direct.bmap" "$img"
assert_stderr_empty
expect_exit 0 "$BMAPCREATE" -o "$WORK/fuse.bmap" "$fimg"
bs_direct=$(sed -n 's|.*<BlockSize> *\([0-9]*\) *</BlockSize>.*|\1|p' "$WORK/direct.bmap")
bs_fuse=$(sed -n 's|.*<BlockSize> *\([0-9]*\) *</BlockSize>.*|\1|p' "$WORK/fuse.bmap")
[ "$bs_direct" = "$B" ] || fail "block size $bs_direct on the backing file, expected $B"
[ "$bs_fuse" = "$bs_direct" ] ||
	skip "FUSE block size $bs_fuse differs from the backing file's $bs_direct"

for fmt in 1.2 2.0; do
	step "--format $fmt: the FUSE file's bmap equals the backing file's"
	expect_exit 0 "$BMAPCREATE" --format "$fmt" -o "$WORK/direct-$fmt.bmap" "$img"
	assert_stderr_empty
	[ "$(ranges_of "$WORK/direct-$fmt.bmap")" = "$want" ] ||
		fail "--format $fmt on the backing file: wrong ranges"
	expect_exit 0 "$BMAPCREATE" --format "$fmt" -o "$WORK/fuse-$fmt.bmap" "$fimg"
	if [ -s "$WORK/stderr" ]; then
		echo "   stderr of bmapcreate on the FUSE file:"
		sed 's/^/  | /' "$WORK/stderr"
	fi
	if grep -q 'error' "$WORK/stderr"; then
		fail "an error message on success"
	fi
	[ "$(ranges_of "$WORK/fuse-$fmt.bmap")" = "$want" ] ||
		fail "--format $fmt on the FUSE file: wrong ranges (no SEEK_DATA fallback?)"
	assert_same "$WORK/direct-$fmt.bmap" "$WORK/fuse-$fmt.bmap" \
		"--format $fmt, FUSE vs backing file"
done

step "--no-checksum on the FUSE file gives the same ranges"
expect_exit 0 "$BMAPCREATE" --no-checksum -o "$WORK/fuse-nc.bmap" "$fimg"
[ "$(ranges_of "$WORK/fuse-nc.bmap")" = "$want" ] ||
	fail "--no-checksum on the FUSE file: wrong ranges"

if [ -n "$BMAPTOOL" ] && [ -x "$BMAPTOOL" ]; then
	# bmaptool cannot run on the FUSE file itself: before trusting
	# SEEK_HOLE it creates a temporary file in the image's folder, which
	# this read-only file system refuses. Its bmap of the backing file
	# is the one ours of the FUSE file must equal.
	step "bmaptool create on the backing file equals our --format 2.0 on the FUSE file"
	expect_exit 0 "$BMAPTOOL" create -o "$WORK/bmaptool.bmap" "$img"
	assert_same "$WORK/bmaptool.bmap" "$WORK/fuse-2.0.bmap" \
		"bmaptool create vs ours on the FUSE file"
else
	step "bmaptool not found: comparison with bmaptool create skipped"
fi

echo "PASS"
