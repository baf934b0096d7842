#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A copy to a block device stopped by SIGINT, SIGTERM or SIGHUP: bmapcopy
# ends within seconds (10 s at most here), even while it waits for its
# input, with one error line saying it was interrupted and a non-zero
# status, and the device's I/O settings (scheduler, bdi max_ratio) are put
# back. Needs root.
#
# The copy is kept waiting on purpose: its input is a FIFO that a
# background writer fills with the first part of the image and then holds
# open, sending the rest only when told (or after 30 s), so every wait
# here is bounded.

# shellcheck source=tests/common.sh disable=SC1091
. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmapcopy
need_loop
need_cmd mkfifo coreutils
need_cmd gzip gzip
need_cmd bzip2 bzip2
need_cmd xz xz-utils

P=bmapcopy
B=$(fs_block_size "$WORK")
MiB=1048576
img=$WORK/image.img
bmap=$WORK/image.bmap
feed=$WORK/feed
go=$WORK/go

step "a 12 MiB image with data in every 4 MiB, its bmap and its packagings"
make_sparse "$img" $((12 * MiB)) \
	"0:$MiB $((5 * MiB)):$MiB $((9 * MiB)):$MiB $((12 * MiB - B)):$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$bmap" "$img"
cp "$img" "$WORK/image.plain"
gzip -c "$img" >"$WORK/image.gzip"
bzip2 -c "$img" >"$WORK/image.bzip2"
xz -c "$img" >"$WORK/image.xz"
mkfifo "$feed"

step "a 16 MiB loop device, its I/O settings changed from bmapcopy's"
truncate -s $((16 * MiB)) "$WORK/disk"
loop_attach "$WORK/disk"
dev=$LOOP_DEV
sys=$LOOP_SYS
detune_loop "$sys"
before=$(io_settings "$sys")
before_sched=$(active_scheduler "$sys")
echo "   $dev: $before"

# ---------------------------------------------------------------------
WRITER_PID=
COPY_PID=

stop_jobs() {
	: >"$go"
	for _pid in $COPY_PID $WRITER_PID; do
		kill -KILL "$_pid" 2>/dev/null || :
		wait "$_pid" 2>/dev/null || :
	done
	COPY_PID=
	WRITER_PID=
}
on_cleanup stop_jobs

# start_copy FILE: bmapcopy reads FILE through the FIFO: the first half at
# once, the rest when $go exists (at most 30 s later).
start_copy() {
	rm -f "$go"
	half=$(($(stat -c %s "$1") / 2))
	(
		head -c "$half" "$1"
		i=0
		while [ ! -e "$go" ] && [ "$i" -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		tail -c +$((half + 1)) "$1"
	) >"$feed" 2>/dev/null &
	WRITER_PID=$!
	"$BMAPCOPY" --bmap "$bmap" - "$dev" <"$feed" >"$WORK/stdout" 2>"$WORK/stderr" &
	COPY_PID=$!
}

# blocked_in_read: a thread of bmapcopy sleeps reading a pipe.
blocked_in_read() {
	cat "/proc/$COPY_PID/task/"*/wchan 2>/dev/null | grep -q 'pipe_read\|pipe_wait\|poll\|select'
}

BUGS=

# interrupt SIG PACKAGING
interrupt() {
	step "SIG$1 while bmapcopy waits for more $2 input"
	start_copy "$WORK/image.$2"

	# The device tuned: the copy has started.
	i=0
	while [ "$(cat "$sys/bdi/max_ratio")" != 1 ]; do
		if ! kill -0 "$COPY_PID" 2>/dev/null; then
			sed 's/^/  | /' "$WORK/stderr" >&2
			fail "bmapcopy ended before the device was tuned"
		fi
		[ "$i" -lt 200 ] || fail "max_ratio did not become 1 within 20 s"
		sleep 0.1
		i=$((i + 1))
	done
	i=0
	while ! blocked_in_read && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if blocked_in_read; then
		echo "   bmapcopy waits in a pipe read"
	else
		echo "   (bmapcopy was not seen waiting in a pipe read)"
	fi
	kill -0 "$COPY_PID" 2>/dev/null || fail "bmapcopy ended before the signal"

	during=$(io_settings "$sys")
	echo "   during the copy: $during"
	if [ "$before_sched" != none ]; then
		[ "$(active_scheduler "$sys")" = none ] ||
			fail "the scheduler during the copy is not none: $during"
	fi

	kill -"$1" "$COPY_PID"
	rc=0
	if wait_exit "$COPY_PID" 10; then
		wait "$COPY_PID" || rc=$?
		COPY_PID=
	else
		BUGS="$BUGS
  SIG$1, $2 input: bmapcopy did not stop within 10 s while waiting for input"
		echo "   BUG: still running 10 s after SIG$1; sending the rest of the input"
		: >"$go"
		wait_exit "$COPY_PID" 20 || fail "bmapcopy still runs 20 s after its input was complete"
		wait "$COPY_PID" || rc=$?
		COPY_PID=
	fi
	# The writer sends the rest into a FIFO with no reader: it ends.
	: >"$go"
	wait_exit "$WRITER_PID" 10 || fail "the FIFO writer did not end"
	wait "$WRITER_PID" 2>/dev/null || :
	WRITER_PID=

	echo "   exit status $rc: $(cat "$WORK/stderr")"
	[ "$rc" -ne 0 ] || fail "SIG$1: bmapcopy exited 0"
	assert_one_line_error "$P"
	assert_error_mentions "interrupted"
	after=$(io_settings "$sys")
	[ "$after" = "$before" ] ||
		fail "SIG$1: I/O settings before: $before; after: $after"
}

interrupt INT plain
interrupt TERM plain
interrupt HUP plain
interrupt INT gzip
interrupt TERM bzip2
interrupt INT xz

step "an uninterrupted copy through the same FIFO succeeds (the set-up works)"
start_copy "$WORK/image.xz"
: >"$go"
wait_exit "$COPY_PID" 30 || fail "the copy did not finish within 30 s"
rc=0
wait "$COPY_PID" || rc=$?
COPY_PID=
wait_exit "$WRITER_PID" 10 || fail "the FIFO writer did not end"
WRITER_PID=
[ "$rc" -eq 0 ] || { sed 's/^/  | /' "$WORK/stderr" >&2; fail "the copy failed"; }
cmp -n $((12 * MiB)) "$dev" "$img" || fail "the device does not hold the image"
[ "$(io_settings "$sys")" = "$before" ] || fail "I/O settings not restored"

[ -z "$BUGS" ] || fail "bmapcopy does not stop on a signal while it waits:$BUGS"

echo "PASS"
