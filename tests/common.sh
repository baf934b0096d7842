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
