#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcopy's command line: help, version, usage errors, the summary and
# -q, and the psplash progress pipe.

# shellcheck source=tests/common.sh disable=SC1091
. "${top_srcdir:?run the tests through make check}/tests/common.sh"

need_bmapcopy
need_cmd gzip gzip
need_cmd mkfifo coreutils
need_cmd timeout coreutils

P=bmapcopy
B=$(fs_block_size "$WORK")
img=$WORK/image.img
bmap=$WORK/image.bmap
dest=$WORK/dest.img
make_copy_image "$img" "$B"
expect_exit 0 "$BMAPCREATE" --format 2.0 -o "$bmap" "$img"
gzip -c "$img" >"$WORK/image.gz"

# ---------------------------------------------------------------------
step "--help and -h print the usage and every option to stdout"
for opt in --help -h; do
	expect_exit 0 "$BMAPCOPY" "$opt"
	assert_stderr_empty
	grep -qi 'usage' "$WORK/stdout" || fail "$opt: no usage line"
	for o in -b --bmap --nobmap --no-verify -q --quiet --psplash-pipe \
		 --help --version; do
		grep -q -e "$o" "$WORK/stdout" || fail "$opt does not mention $o"
	done
done

step "--version and -V print the package version"
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "${top_builddir:?}/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in config.h"
for opt in --version -V; do
	expect_exit 0 "$BMAPCOPY" "$opt"
	assert_stderr_empty
	grep -qF "$version" "$WORK/stdout" || fail "$opt does not print $version"
	grep -q "$P" "$WORK/stdout" || fail "$opt does not name $P"
done

# ---------------------------------------------------------------------
step "usage errors exit 2 with an error line and a hint, and write nothing"
usage_error() {
	rm -f "$dest"
	expect_exit 2 "$BMAPCOPY" "$@"
	assert_usage_error "$P"
	[ ! -e "$dest" ] || fail "a usage error ($*) created DEST"
}
usage_error --bogus "$img" "$dest"
usage_error -Z "$img" "$dest"
usage_error
usage_error "$img"
usage_error -q "$img"
usage_error "$img" "$dest" "$WORK/third"
usage_error --bmap "$bmap" --nobmap "$img" "$dest"
usage_error --nobmap -b "$bmap" "$img" "$dest"
usage_error "$img" "$dest" --bmap
usage_error "$img" "$dest" -b
usage_error "$img" "$dest" --psplash-pipe
usage_error --nobmap=yes "$img" "$dest"
grep -q 'nobmap' "$WORK/stderr" || fail "--nobmap=yes: the error does not name the option"

# ---------------------------------------------------------------------
step "without -q: exactly one summary line on stderr, nothing on stdout"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --bmap "$bmap" "$WORK/image.gz" "$dest"
assert_copy_summary
[ ! -s "$WORK/stdout" ] || fail "a copy wrote to stdout"
grep -qF "$dest" "$WORK/stderr" || fail "the summary does not name DEST"
grep -q ' 8 ranges verified' "$WORK/stderr" ||
	fail "the summary does not say that the 8 ranges were verified"
assert_same "$img" "$dest" "the copy"

step "the options' other spellings: -b, --bmap=FILE, options after the operands"
for args in "-b $bmap $WORK/image.gz" "--bmap=$bmap $WORK/image.gz" \
	    "$WORK/image.gz --bmap $bmap"; do
	rm -f "$dest"
	# shellcheck disable=SC2086 # split on purpose (no blanks in $WORK)
	expect_exit 0 "$BMAPCOPY" $args "$dest"
	assert_copy_summary
	assert_same "$img" "$dest" "bmapcopy $args"
done

step "--no-verify: the copy succeeds and verifies no range"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --no-verify --bmap "$bmap" "$WORK/image.gz" "$dest"
assert_copy_summary
grep -q ' 0 ranges verified' "$WORK/stderr" ||
	fail "--no-verify: the summary does not say 0 ranges were verified"
assert_same "$img" "$dest" "--no-verify"

step "-q and --quiet: nothing at all on stderr or stdout"
for q in -q --quiet; do
	rm -f "$dest"
	expect_exit 0 "$BMAPCOPY" "$q" --bmap "$bmap" "$WORK/image.gz" "$dest"
	assert_stderr_empty
	[ ! -s "$WORK/stdout" ] || fail "$q: a copy wrote to stdout"
	assert_same "$img" "$dest" "$q"
done

step "-q does not silence an error"
expect_exit 1 "$BMAPCOPY" -q "$WORK/no-such.img" "$dest"
assert_one_line_error "$P"

# ---------------------------------------------------------------------
# The psplash pipe: a FIFO that a reader holds open gets "PROGRESS <n>"
# lines, n rising to 100.

fifo=$WORK/psplash.fifo
mkfifo "$fifo"
READER_PID=
stop_reader() {
	exec 3>&- || :
	if [ -n "$READER_PID" ]; then
		kill "$READER_PID" 2>/dev/null || :
		wait "$READER_PID" 2>/dev/null || :
		READER_PID=
	fi
}
on_cleanup stop_reader

# start_reader: a background cat collects what the FIFO gets in
# $WORK/progress; this shell holds the FIFO open for writing (fd 3) until
# end_reader, so the reader sees no end of file in between.
start_reader() {
	: >"$WORK/progress"
	timeout 60 cat "$fifo" >"$WORK/progress" &
	READER_PID=$!
	exec 3>"$fifo"	# returns once the reader has opened its end
}

# end_reader: close our end, wait (bounded) for the reader to finish.
end_reader() {
	exec 3>&-
	wait_exit "$READER_PID" 10 || fail "the FIFO's reader did not finish"
	wait "$READER_PID" || fail "the FIFO's reader failed"
	READER_PID=
}

# assert_progress: $WORK/progress holds PROGRESS lines, rising, ending
# with 100.
assert_progress() {
	if ! grep -q '' "$WORK/progress"; then
		fail "nothing was written to the psplash pipe"
	fi
	if grep -v -x 'PROGRESS [0-9]\{1,3\}' "$WORK/progress" >&2; then
		fail "the psplash pipe got lines other than 'PROGRESS <n>'"
	fi
	sort -n -k 2 -c "$WORK/progress" ||
		fail "the PROGRESS values do not rise: $(tr '\n' ' ' <"$WORK/progress")"
	[ "$(tail -n 1 "$WORK/progress")" = "PROGRESS 100" ] ||
		fail "the last line is not 'PROGRESS 100': $(tr '\n' ' ' <"$WORK/progress")"
}

for mode in "by bmap, gzip" "by bmap, plain" "--nobmap, plain" "by holes"; do
	step "--psplash-pipe ($mode): PROGRESS lines ending with PROGRESS 100"
	case $mode in
	"by bmap, gzip") args="--bmap $bmap $WORK/image.gz" ;;
	"by bmap, plain") args="--bmap $bmap $img" ;;
	"--nobmap, plain") args="--nobmap $img" ;;
	"by holes") args="$img" ;;
	esac
	start_reader
	rm -f "$dest"
	# shellcheck disable=SC2086 # split on purpose (no blanks in $WORK)
	expect_exit 0 "$BMAPCOPY" --psplash-pipe "$fifo" $args "$dest"
	end_reader
	assert_copy_summary
	assert_same "$img" "$dest" "the copy with --psplash-pipe ($mode)"
	assert_progress
	echo "   $(tr '\n' ' ' <"$WORK/progress")"
done

step "--psplash-pipe with -q: the progress still goes to the pipe"
start_reader
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" -q --psplash-pipe "$fifo" --bmap "$bmap" "$WORK/image.gz" "$dest"
end_reader
assert_stderr_empty
assert_progress

step "--psplash-pipe, a FIFO with no reader: a warning, the copy succeeds"
rm -f "$dest"
expect_exit 0 timeout 60 "$BMAPCOPY" --psplash-pipe "$fifo" --bmap "$bmap" "$WORK/image.gz" "$dest"
grep -q "^$P: warning: .*psplash" "$WORK/stderr" ||
	{ sed 's/^/  | /' "$WORK/stderr" >&2; fail "no '$P: warning: ... psplash' line"; }
grep -q '^bmapcopy: wrote ' "$WORK/stderr" || fail "no summary after the warning"
if grep -q 'error' "$WORK/stderr"; then
	fail "an error message on success"
fi
assert_same "$img" "$dest" "the copy with an unread psplash pipe"

step "--psplash-pipe, a path that does not exist: a warning, the copy succeeds"
rm -f "$dest"
expect_exit 0 timeout 60 "$BMAPCOPY" --psplash-pipe "$WORK/no-such.fifo" --bmap "$bmap" "$WORK/image.gz" "$dest"
grep -q "^$P: warning: .*psplash" "$WORK/stderr" ||
	{ sed 's/^/  | /' "$WORK/stderr" >&2; fail "no '$P: warning: ... psplash' line"; }
[ ! -e "$WORK/no-such.fifo" ] || fail "--psplash-pipe created a file"
assert_same "$img" "$dest" "the copy with a missing psplash pipe"

# not_a_fifo WHAT PATH: PATH is no FIFO (or a symbolic link): the copy
# succeeds with one warning line, and writes nothing there.
not_a_fifo() {
	step "--psplash-pipe, $1: one warning, nothing written there, the copy succeeds"
	rm -f "$dest"
	expect_exit 0 timeout 60 "$BMAPCOPY" --psplash-pipe "$2" --bmap "$bmap" "$WORK/image.gz" "$dest"
	grep -q "^$P: warning: .*psplash" "$WORK/stderr" ||
		{ sed 's/^/  | /' "$WORK/stderr" >&2; fail "no '$P: warning: ... psplash' line"; }
	[ "$(grep -c "^$P: warning: " "$WORK/stderr")" -eq 1 ] ||
		{ sed 's/^/  | /' "$WORK/stderr" >&2; fail "not exactly one warning line"; }
	grep -q '^bmapcopy: wrote ' "$WORK/stderr" || fail "no summary after the warning"
	assert_same "$img" "$dest" "the copy with --psplash-pipe $1"
	echo "   $(head -n 1 "$WORK/stderr")"
}
printf 'not a pipe\n' >"$WORK/regular"
regular_before=$(file_state "$WORK/regular")
not_a_fifo "a regular file" "$WORK/regular"
[ "$(file_state "$WORK/regular")" = "$regular_before" ] ||
	fail "--psplash-pipe wrote into a regular file"
ln -s regular "$WORK/link-to-regular"
not_a_fifo "a symbolic link to a regular file" "$WORK/link-to-regular"
[ "$(file_state "$WORK/regular")" = "$regular_before" ] ||
	fail "--psplash-pipe wrote through a symbolic link"
[ -L "$WORK/link-to-regular" ] || fail "the symbolic link was replaced"
# Not even to a FIFO: a link someone planted is never followed.
ln -s psplash.fifo "$WORK/link-to-fifo"
start_reader
not_a_fifo "a symbolic link to a FIFO with a reader" "$WORK/link-to-fifo"
end_reader
[ ! -s "$WORK/progress" ] ||
	fail "--psplash-pipe wrote through a symbolic link to a FIFO"
mkdir "$WORK/folder"
not_a_fifo "a folder" "$WORK/folder"

step "--psplash-pipe: a reader that comes after the copy started gets the progress"
# As with bmaptool, the FIFO is tried again at each new percentage. The
# image comes through a FIFO too, so the copy waits for the reader: half
# of it, the warning that nobody reads the pipe, the reader, the rest.
mkfifo "$WORK/source.fifo"
rm -f "$dest"
"$BMAPCOPY" --psplash-pipe "$fifo" --bmap "$bmap" "$WORK/source.fifo" "$dest" \
	>"$WORK/stdout" 2>"$WORK/stderr" &
copy_pid=$!
exec 4>"$WORK/source.fifo"
gz_size=$(stat -c %s "$WORK/image.gz")
head -c $((gz_size / 2)) "$WORK/image.gz" >&4
i=0
until grep -q "psplash pipe .* has no reader" "$WORK/stderr"; do
	[ "$i" -lt 200 ] || { exec 4>&-; fail "no warning about the reader"; }
	sleep 0.1
	i=$((i + 1))
done
# start_reader, but the reader must not hold the image's FIFO open.
: >"$WORK/progress"
timeout 60 cat "$fifo" >"$WORK/progress" 4>&- &
READER_PID=$!
exec 3>"$fifo"
tail -c +$((gz_size / 2 + 1)) "$WORK/image.gz" >&4
exec 4>&-
wait_exit "$copy_pid" 60 || fail "the copy did not finish"
wait "$copy_pid" || fail "the copy failed: $(cat "$WORK/stderr")"
end_reader
assert_same "$img" "$dest" "the copy whose progress reader came late"
assert_progress
echo "   $(tr '\n' ' ' <"$WORK/progress")"

step "--psplash-pipe with no reader and -q: no warning"
rm -f "$dest"
expect_exit 0 timeout 60 "$BMAPCOPY" -q --psplash-pipe "$fifo" --bmap "$bmap" "$WORK/image.gz" "$dest"
assert_stderr_empty

step "--psplash-pipe: a reader that goes away mid-copy does not stop it"
# The reader reads one line and exits: bmapcopy's later writes to the pipe,
# if any, fail with EPIPE, which must not kill it.
timeout 60 head -n 1 "$fifo" >"$WORK/progress" &
READER_PID=$!
exec 3>"$fifo"
rm -f "$dest"
expect_exit 0 "$BMAPCOPY" --psplash-pipe "$fifo" --nobmap "$img" "$dest"
exec 3>&-
wait_exit "$READER_PID" 10 || fail "head did not finish"
wait "$READER_PID" || :
READER_PID=
assert_copy_summary
assert_same "$img" "$dest" "the copy whose progress reader went away"

echo "PASS"
