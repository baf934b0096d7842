# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# common.sh - sourced by every shell test: strict mode, a work folder per
# test (kept only on failure), cleanup on exit, and small helpers.
#
# The test harness (AM_TESTS_ENVIRONMENT) exports top_srcdir, top_builddir
# (both absolute) and BMAPTOOL (the reference tool's path, or empty).
#
# POSIX sh has no local variables: the helpers' own variables start with
# an underscore so that they never clobber a test's.

set -eu
LC_ALL=C
export LC_ALL

: "${top_srcdir:?top_srcdir is not set: run the tests through make check}"
top_builddir=${top_builddir:-$top_srcdir}
BMAPTOOL=${BMAPTOOL-$(command -v bmaptool || :)}

BMAPCREATE=$top_builddir/src/bmapcreate
# shellcheck disable=SC2034 # used by the tests that source this file
DATADIR=$top_srcdir/tests/data
TEST_NAME=$(basename "$0" .sh)

# ---------------------------------------------------------------------
# Reporting

# fail MSG: the test failed.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# skip REASON: the test cannot run here (automake counts 77 as SKIP).
skip() {
	echo "SKIP: $*"
	exit 77
}

# step MSG: say what is checked next.
step() {
	echo "-- $*"
}

# ---------------------------------------------------------------------
# Work folder and cleanup

# Extent tests need a real disk file system (FIEMAP, holes), which /tmp
# may not be (tmpfs), so the work folder lives in the build tree.
mkdir -p "$top_builddir/tests"
WORK=$(mktemp -d "$top_builddir/tests/work.$TEST_NAME.XXXXXX")
CLEANUP_CMDS=

# on_cleanup CMD: run CMD (through eval) when the test exits, newest first,
# before the work folder goes away.
on_cleanup() {
	CLEANUP_CMDS="$1
$CLEANUP_CMDS"
}

run_cleanup() {
	_status=$1
	trap - EXIT
	set +e
	# A here-document, not a pipe: the commands run in this shell, so
	# they can wait for its background jobs.
	while IFS= read -r _cmd; do
		[ -z "$_cmd" ] || eval "$_cmd"
	done <<EOF
$CLEANUP_CMDS
EOF
	if [ "$_status" -eq 0 ] || [ "$_status" -eq 77 ]; then
		# --one-file-system: never descend into a mount left behind.
		rm -rf --one-file-system "$WORK"
	else
		echo "work folder kept: $WORK" >&2
	fi
	exit "$_status"
}

trap 'run_cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------
# Running commands

# expect_exit CODE CMD...: run CMD with its stdout and stderr in
# $WORK/stdout and $WORK/stderr; fail unless it exits with CODE.
expect_exit() {
	_want=$1
	shift
	_rc=0
	"$@" >"$WORK/stdout" 2>"$WORK/stderr" || _rc=$?
	if [ "$_rc" -ne "$_want" ]; then
		echo "command: $*" >&2
		echo "stderr:" >&2
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "exit status $_rc, expected $_want"
	fi
}

# assert_one_line_error PROGNAME: $WORK/stderr is exactly one line that
# starts with "PROGNAME: error: ".
assert_one_line_error() {
	_n=$(wc -l <"$WORK/stderr")
	if [ "$_n" -ne 1 ] || [ "$(grep -c '' "$WORK/stderr")" -ne 1 ]; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "expected exactly one line on stderr, got $_n"
	fi
	if ! grep -q "^$1: error: " "$WORK/stderr"; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "stderr does not start with '$1: error: '"
	fi
}

# assert_usage_error PROGNAME: nothing on stdout; stderr is an error line
# starting "PROGNAME: error: " followed by one hint line.
assert_usage_error() {
	[ ! -s "$WORK/stdout" ] || fail "a usage error wrote to stdout"
	_n=$(grep -c '' "$WORK/stderr" || :)
	if [ "$_n" -ne 2 ]; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "expected an error line and a hint line on stderr, got $_n lines"
	fi
	if ! head -n 1 "$WORK/stderr" | grep -q "^$1: error: "; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "stderr does not start with '$1: error: '"
	fi
}

# assert_stderr_empty: nothing was written to $WORK/stderr.
assert_stderr_empty() {
	if [ -s "$WORK/stderr" ]; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "stderr is not empty"
	fi
}

# assert_same FILE1 FILE2 WHAT: byte-identical files, or a diff and fail.
assert_same() {
	if ! cmp -s "$1" "$2"; then
		diff -u "$1" "$2" | head -n 40 >&2 || :
		fail "$3: $1 and $2 differ"
	fi
}

# ---------------------------------------------------------------------
# Prerequisites

[ -x "$BMAPCREATE" ] || fail "$BMAPCREATE is not built"

# need_bmaptool: skip unless the reference bmaptool is available.
need_bmaptool() {
	if [ -z "$BMAPTOOL" ] || [ ! -x "$BMAPTOOL" ]; then
		skip "the reference bmaptool was not found by configure (the" \
		     "project's set-up installs it: Debian package bmap-tools)"
	fi
}

# ---------------------------------------------------------------------
# Sparse files and bmaps

# fs_block_size PATH: the block size of the file system holding PATH (a
# folder, or a file that need not exist yet).
fs_block_size() {
	if [ -d "$1" ]; then
		stat -f -c %S "$1"
	else
		stat -f -c %S "$(dirname "$1")"
	fi
}

# make_sparse FILE SIZE "OFFSET:LEN ...": a new sparse FILE of SIZE bytes
# with random non-zero bytes at each OFFSET for LEN bytes, holes elsewhere.
make_sparse() {
	rm -f "$1"
	truncate -s "$2" "$1"
	for _span in $3; do
		_off=${_span%%:*}
		_len=${_span#*:}
		head -c "$_len" /dev/urandom | tr '\000' '\377' |
			dd of="$1" bs=65536 seek="$_off" oflag=seek_bytes \
			   iflag=fullblock conv=notrunc status=none
	done
	sync "$1"
}

# ranges_of BMAP: the block range texts ("0-1", "3"), one a line, whatever
# the range attribute and the format version.
ranges_of() {
	sed -n 's|.*<Range[^>]*>[[:space:]]*\([0-9][0-9-]*\)[[:space:]]*</Range>.*|\1|p' "$1"
}

# assert_same_ranges BMAP1 BMAP2 WHAT: both bmaps list the same blocks.
assert_same_ranges() {
	ranges_of "$1" >"$WORK/ranges.1"
	ranges_of "$2" >"$WORK/ranges.2"
	if ! cmp -s "$WORK/ranges.1" "$WORK/ranges.2"; then
		diff -u "$WORK/ranges.1" "$WORK/ranges.2" | head -n 40 >&2 || :
		fail "$3: $1 and $2 list different ranges"
	fi
}

# ---------------------------------------------------------------------
# bmapcopy

BMAPCOPY=$top_builddir/src/bmapcopy

# need_bmapcopy: fail unless bmapcopy is built.
need_bmapcopy() {
	[ -x "$BMAPCOPY" ] || fail "$BMAPCOPY is not built"
}

# need_cmd CMD PACKAGE: skip unless CMD is installed (Debian PACKAGE).
need_cmd() {
	command -v "$1" >/dev/null 2>&1 ||
		skip "$1 is not installed (Debian package $2)"
}

# assert_copy_summary: $WORK/stderr is bmapcopy's one summary line.
assert_copy_summary() {
	if [ "$(grep -c '' "$WORK/stderr" || :)" -ne 1 ] ||
	   ! grep -q '^bmapcopy: wrote ' "$WORK/stderr"; then
		sed 's/^/  | /' "$WORK/stderr" >&2
		fail "expected one 'bmapcopy: wrote ...' summary line on stderr"
	fi
}

# assert_error_mentions TEXT...: $WORK/stderr (one error line) contains
# each TEXT (a basic regular expression, case-insensitive).
assert_error_mentions() {
	for _re in "$@"; do
		if ! grep -qi -e "$_re" "$WORK/stderr"; then
			sed 's/^/  | /' "$WORK/stderr" >&2
			fail "the error does not mention '$_re'"
		fi
	done
}

# bmap_block_size BMAP: the BlockSize a bmap gives.
bmap_block_size() {
	sed -n 's|.*<BlockSize>[[:space:]]*\([0-9]*\)[[:space:]]*</BlockSize>.*|\1|p' "$1"
}

# overlay_ranges BMAP IMAGE FILE: copy the blocks BMAP maps from IMAGE
# into FILE (a file or a device) at the same offsets; the rest of FILE is
# left as it is. A range holding the partial last block stops at IMAGE's
# end, as bmapcopy's writes do.
overlay_ranges() {
	_bs=$(bmap_block_size "$1")
	[ -n "$_bs" ] || fail "no BlockSize in $1"
	for _r in $(ranges_of "$1"); do
		_first=${_r%-*}
		_last=${_r#*-}
		dd if="$2" of="$3" bs="$_bs" skip="$_first" seek="$_first" \
		   count=$((_last - _first + 1)) conv=notrunc status=none
	done
}

# pattern_file FILE SIZE: a new FILE of SIZE bytes, every one 0xAA.
pattern_file() {
	head -c "$2" /dev/zero | tr '\000' '\252' >"$1"
}

# flip_byte FILE OFFSET: invert every bit of the byte at OFFSET in FILE.
flip_byte() {
	_old=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
	[ -n "$_old" ] || fail "flip_byte: $1 has no byte at $2"
	# shellcheck disable=SC2059 # the format is an octal escape built here
	printf "\\$(printf %03o $((_old ^ 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# file_state FILE: a line that changes when FILE's bytes or size change
# ("absent" when it does not exist).
file_state() {
	if [ -e "$1" ]; then
		echo "$(stat -c %s "$1") $(cksum <"$1")"
	else
		echo absent
	fi
}

# wait_exit PID SECONDS: wait until the process PID has ended, at most
# SECONDS (a whole number); 1 if it is still running then.
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$_i" -lt $(($2 * 10)) ] || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 0
}

# ---------------------------------------------------------------------
# Loop devices (root only)

# need_loop: skip unless this is root and a loop device can be attached.
need_loop() {
	[ "$(id -u)" -eq 0 ] || skip "loop devices need root"
	need_cmd losetup util-linux
	losetup -f >/dev/null 2>&1 || skip "no free loop device (losetup -f failed)"
	truncate -s 1M "$WORK/.loop-probe"
	_dev=$(losetup -f --show "$WORK/.loop-probe" 2>"$WORK/.loop-err") ||
		skip "cannot attach a loop device: $(head -n 1 "$WORK/.loop-err")"
	losetup -d "$_dev"
	rm -f "$WORK/.loop-probe" "$WORK/.loop-err"
}

# loop_attach FILE: attach FILE to a free loop device, named in LOOP_DEV
# afterwards (and its sysfs folder in LOOP_SYS); detached on exit.
loop_attach() {
	LOOP_DEV=$(losetup -f --show "$1") || fail "cannot attach $1 to a loop device"
	on_cleanup "losetup -d '$LOOP_DEV'"
	LOOP_SYS=/sys/block/$(basename "$LOOP_DEV")
	[ -d "$LOOP_SYS" ] || fail "no $LOOP_SYS for $LOOP_DEV"
}

# active_scheduler SYSDIR: the scheduler in brackets in SYSDIR's queue.
active_scheduler() {
	sed -n 's/.*\[\([^]]*\)\].*/\1/p' "$1/queue/scheduler"
}

# io_settings SYSDIR: the device's scheduler and bdi max_ratio, one line.
io_settings() {
	echo "scheduler=$(active_scheduler "$1") max_ratio=$(cat "$1/bdi/max_ratio")"
}

# detune_loop SYSDIR: set a scheduler other than none (mq-deadline, when
# the kernel has it) and max_ratio 100, so that bmapcopy has something to
# change and to put back; the old values come back on exit.
detune_loop() {
	_old_sched=$(active_scheduler "$1")
	_old_ratio=$(cat "$1/bdi/max_ratio")
	on_cleanup "echo '$_old_sched' >'$1/queue/scheduler' 2>/dev/null; echo '$_old_ratio' >'$1/bdi/max_ratio' 2>/dev/null"
	if grep -qw mq-deadline "$1/queue/scheduler"; then
		echo mq-deadline >"$1/queue/scheduler" ||
			fail "cannot set mq-deadline in $1/queue/scheduler"
	fi
	echo 100 >"$1/bdi/max_ratio" || fail "cannot set $1/bdi/max_ratio"
}

# ---------------------------------------------------------------------
# The copy tests' image

# make_copy_image FILE BLOCKSIZE: a sparse image of 1536 blocks + 1000
# bytes (6 MiB + 1000 with 4 KiB blocks), mostly holes: data in block 0,
# 10 bytes inside block 5, blocks 16-18, 2 bytes across blocks 99-100,
# blocks 300-339, the last byte of block 512, blocks 1020-1031 (across
# the 4 MiB mark with 4 KiB blocks) and the partial last block 1536.
# COPY_IMAGE_RANGES lists those ranges as ranges_of prints them.
make_copy_image() {
	make_sparse "$1" $((1536 * $2 + 1000)) \
		"0:$2 $((5 * $2 + 100)):10 $((16 * $2)):$((3 * $2)) \
		 $((100 * $2 - 1)):2 $((300 * $2)):$((40 * $2)) \
		 $((513 * $2 - 1)):1 $((1020 * $2)):$((12 * $2)) \
		 $((1536 * $2)):1000"
}
# shellcheck disable=SC2034 # used by the tests that source this file
COPY_IMAGE_RANGES="0
5
16-18
99-100
300-339
512
1020-1031
1536"

# ---------------------------------------------------------------------
# bmapfs mounts

BMAPFS=$top_builddir/src/bmapfs

# need_fuse: skip unless FUSE can be used here.
need_fuse() {
	[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
	need_cmd fusermount3 fuse3
	need_cmd mountpoint util-linux
}

# fs_mount MNT ARGS...: run bmapfs -f ARGS... MNT in the background, its
# output in $WORK/bmapfs.log, and wait (at most 20 s) for the mount; it
# is unmounted and the daemon reaped on exit. FS_PID is the daemon.
fs_mount() {
	_mnt=$1
	shift
	mkdir -p "$_mnt"
	"$BMAPFS" -f "$@" "$_mnt" >>"$WORK/bmapfs.log" 2>&1 &
	FS_PID=$!
	on_cleanup "fs_umount '$_mnt' $FS_PID"
	_i=0
	while ! mountpoint -q "$_mnt"; do
		if ! kill -0 "$FS_PID" 2>/dev/null; then
			sed 's/^/  | /' "$WORK/bmapfs.log" >&2
			fail "bmapfs exited before mounting $_mnt"
		fi
		[ "$_i" -lt 200 ] || fail "bmapfs did not mount $_mnt in 20 s"
		sleep 0.1
		_i=$((_i + 1))
	done
}

# fs_umount MNT PID: unmount MNT (lazily if busy) and wait for PID.
fs_umount() {
	if mountpoint -q "$1"; then
		fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" || :
	fi
	wait_exit "$2" 10 || kill "$2" 2>/dev/null || :
	wait "$2" 2>/dev/null || :
}

# hole_walk FILE: the data extents lseek(SEEK_DATA/SEEK_HOLE) reports, one
# "start-end" (bytes, end exclusive) a line.
hole_walk() {
	/usr/bin/python3 - "$1" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
off = 0
while off < size:
    try:
        d = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    h = os.lseek(fd, d, os.SEEK_HOLE)
    print("%d-%d" % (d, h))
    off = h
PY
}

# bmap_extents BMAP: the data extents BMAP maps, as hole_walk prints them
# (touching ranges joined; the last one stops at the image's end).
bmap_extents() {
	_bs=$(bmap_block_size "$1")
	_size=$(sed -n 's|.*<ImageSize>[[:space:]]*\([0-9]*\)[[:space:]]*</ImageSize>.*|\1|p' "$1")
	ranges_of "$1" | awk -F- -v bs="$_bs" -v size="$_size" '
		{ s = $1 * bs; e = ($NF + 1) * bs; if (e > size) e = size
		  if (n && s == pe) { pe = e; next }
		  if (n) printf "%.0f-%.0f\n", ps, pe; ps = s; pe = e; n = 1 }
		END { if (n) printf "%.0f-%.0f\n", ps, pe }'
}

# make_tree DIR: a small tree of files to put in a file system: text,
# pseudo-random binaries of a few sizes (one across many ext4 blocks), an
# empty file and a subfolder.
make_tree() {
	mkdir -p "$1/sub/deeper"
	seq 1 20000 >"$1/numbers.txt"
	: >"$1/empty"
	head -c 1048576 /dev/urandom >"$1/random-1M.bin"
	head -c 3000000 /dev/urandom >"$1/sub/random-3M.bin"
	head -c 4097 /dev/urandom >"$1/sub/deeper/odd-size.bin"
	printf 'hello from inside the image\n' >"$1/sub/deeper/hello.txt"
}

# make_disk_image FILE TREE: a 48 MiB sparse disk image (about 9 MiB
# mapped): random bytes in its first 4 KiB (a stand-in for a boot sector),
# an ext4 file system holding TREE from 1 MiB to 33 MiB (FS_OFFSET,
# FS_SIZE), and 2 MiB of random data at 40 MiB. FILE.bmap is its bmap.
FS_OFFSET=1048576
FS_SIZE=33554432
make_disk_image() {
	need_cmd mkfs.ext4 e2fsprogs
	rm -f "$1"
	truncate -s 48M "$1"
	head -c 4096 /dev/urandom | dd of="$1" conv=notrunc status=none
	mkfs.ext4 -q -F -b 4096 -E offset=$FS_OFFSET,root_owner=0:0 -d "$2" \
		"$1" $((FS_SIZE / 1024))k >/dev/null ||
		fail "mkfs.ext4 could not make the test file system"
	head -c 2097152 /dev/urandom |
		dd of="$1" bs=1M seek=40 conv=notrunc status=none
	"$BMAPCREATE" -q -o "$1.bmap" "$1" || fail "bmapcreate failed on $1"
}
