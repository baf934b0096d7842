#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bmapcreate's command line: help, version, usage errors, refusals, warnings
# and the options that change the output.

. "${top_srcdir:?run the tests through make check}/tests/common.sh"

P=bmapcreate
bs=$(fs_block_size "$WORK")
img=$WORK/sparse.img
make_sparse "$img" $((16 * bs + 10)) "0:$bs $((4 * bs)):$((2 * bs)) $((16 * bs)):10"

# ---------------------------------------------------------------------
step "--help and -h print the usage and every option to stdout"
for opt in --help -h; do
	expect_exit 0 "$BMAPCREATE" "$opt"
	assert_stderr_empty
	grep -qi 'usage' "$WORK/stdout" || fail "$opt: no usage line"
	for o in -o --format --no-checksum -q --help --version; do
		grep -q -e "$o" "$WORK/stdout" || fail "$opt does not mention $o"
	done
done

step "--version and -V print the package version"
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in config.h"
for opt in --version -V; do
	expect_exit 0 "$BMAPCREATE" "$opt"
	assert_stderr_empty
	grep -qF "$version" "$WORK/stdout" || fail "$opt does not print $version"
done

# ---------------------------------------------------------------------
step "usage errors exit 2 with an error line and a hint"
expect_exit 2 "$BMAPCREATE" --bogus "$img"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" -Z "$img"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" -q
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" "$img" "$img"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" --format 3.0 "$img"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" --format "" "$img"
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" "$img" --format
assert_usage_error "$P"
expect_exit 2 "$BMAPCREATE" "$img" -o
assert_usage_error "$P"

# ---------------------------------------------------------------------
step "a nonexistent image: exit 1, one error line saying it cannot open it"
expect_exit 1 "$BMAPCREATE" "$WORK/no-such.img"
assert_one_line_error "$P"
grep -q 'cannot open' "$WORK/stderr" || fail "no 'cannot open' in the error"
[ ! -s "$WORK/stdout" ] || fail "a failed run wrote to stdout"

step "a directory as the image: exit 1, one error line"
mkdir "$WORK/adir"
expect_exit 1 "$BMAPCREATE" "$WORK/adir"
assert_one_line_error "$P"
[ ! -s "$WORK/stdout" ] || fail "a failed run wrote to stdout"

step "an empty image: exit 1, one error line"
: >"$WORK/empty.img"
expect_exit 1 "$BMAPCREATE" "$WORK/empty.img"
assert_one_line_error "$P"
[ ! -s "$WORK/stdout" ] || fail "a failed run wrote to stdout"

step "-o naming the image itself: exit 1, image unchanged"
sum_before=$(sha256sum <"$img")
size_before=$(stat -c %s "$img")
for out in "$img" "$WORK/./sparse.img" "$WORK/adir/../sparse.img"; do
	expect_exit 1 "$BMAPCREATE" -o "$out" "$img"
	assert_one_line_error "$P"
	[ "$(stat -c %s "$img")" -eq "$size_before" ] ||
		fail "-o $out changed the image's size"
	[ "$(sha256sum <"$img")" = "$sum_before" ] ||
		fail "-o $out changed the image's contents"
done
ln -s sparse.img "$WORK/link.img"
expect_exit 1 "$BMAPCREATE" -o "$WORK/link.img" "$img"
assert_one_line_error "$P"
[ "$(sha256sum <"$img")" = "$sum_before" ] ||
	fail "-o through a symbolic link changed the image"

step "-o in a nonexistent folder: exit 1, one error line"
expect_exit 1 "$BMAPCREATE" -o "$WORK/no-such-dir/out.bmap" "$img"
assert_one_line_error "$P"
[ ! -e "$WORK/no-such-dir" ] || fail "the missing folder was created"

step "a failure leaves an existing -o file alone"
for bad in "$WORK/no-such.img" "$WORK/adir" "$WORK/empty.img"; do
	echo keep >"$WORK/existing.bmap"
	expect_exit 1 "$BMAPCREATE" -o "$WORK/existing.bmap" "$bad"
	assert_one_line_error "$P"
	[ "$(cat "$WORK/existing.bmap")" = keep ] ||
		fail "a failed run on $bad clobbered the -o file"
done

step "a failure leaves no new -o file behind"
expect_exit 1 "$BMAPCREATE" -o "$WORK/new.bmap" "$WORK/no-such.img"
[ ! -e "$WORK/new.bmap" ] || fail "a failed run left $WORK/new.bmap"
leftovers=$(find "$WORK" -name '*.bmap*' ! -name existing.bmap)
[ -z "$leftovers" ] || fail "a failed run left files behind: $leftovers"

step "-o replaces an existing file on success"
echo old >"$WORK/existing.bmap"
expect_exit 0 "$BMAPCREATE" -o "$WORK/existing.bmap" "$img"
expect_exit 0 "$BMAPCREATE" "$img"
assert_same "$WORK/stdout" "$WORK/existing.bmap" "-o over an existing file"

# ---------------------------------------------------------------------
# -o writes a new file made exclusively beside FILE and renames it over
# FILE: a symbolic link planted there is replaced, never followed; FILE
# (or what a link there points to) that is not a regular file is refused.

step "-o a symbolic link to a regular file: the link is replaced, its target untouched"
echo "someone else's file" >"$WORK/victim"
victim_before=$(file_state "$WORK/victim")
ln -s victim "$WORK/planted.bmap"
expect_exit 0 "$BMAPCREATE" -o "$WORK/planted.bmap" "$img"
[ "$(file_state "$WORK/victim")" = "$victim_before" ] ||
	fail "-o wrote through a symbolic link"
[ ! -L "$WORK/planted.bmap" ] || fail "-o left the symbolic link in place"
expect_exit 0 "$BMAPCREATE" "$img"
assert_same "$WORK/stdout" "$WORK/planted.bmap" "-o over a symbolic link"

step "-o a dangling symbolic link: replaced, nothing made where it points"
ln -s nowhere "$WORK/dangling.bmap"
expect_exit 0 "$BMAPCREATE" -o "$WORK/dangling.bmap" "$img"
[ ! -e "$WORK/nowhere" ] || fail "-o created the dangling link's target"
if [ ! -f "$WORK/dangling.bmap" ] || [ -L "$WORK/dangling.bmap" ]; then
	fail "-o did not replace the dangling link"
fi

# refused_output WHAT FILE: exit 1 at once (nothing waits on a FIFO), one
# error line naming FILE, nothing on stdout, no file left beside FILE.
refused_output() {
	step "-o $1: refused"
	expect_exit 1 timeout 20 "$BMAPCREATE" -o "$2" "$img"
	assert_one_line_error "$P"
	assert_error_mentions "$(basename "$2")" "not a regular file"
	[ ! -s "$WORK/stdout" ] || fail "-o $1: a refused run wrote to stdout"
	leftovers=$(find "$WORK" -name "$(basename "$2").*")
	[ -z "$leftovers" ] || fail "-o $1: files left behind: $leftovers"
	echo "   $(cat "$WORK/stderr")"
}
mkfifo "$WORK/out.fifo"
refused_output "a FIFO" "$WORK/out.fifo"
ln -s out.fifo "$WORK/link-to-fifo.bmap"
refused_output "a symbolic link to a FIFO" "$WORK/link-to-fifo.bmap"
[ -L "$WORK/link-to-fifo.bmap" ] || fail "the refused link was replaced"
mkdir "$WORK/out.dir"
refused_output "a folder" "$WORK/out.dir"
ln -s /dev/null "$WORK/link-to-null.bmap"
refused_output "a symbolic link to a character device" "$WORK/link-to-null.bmap"
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null &&
   truncate -s 1M "$WORK/disk" && loop_dev=$(losetup -f --show "$WORK/disk" 2>/dev/null); then
	on_cleanup "losetup -d '$loop_dev'"
	printf 'the disk' | dd of="$loop_dev" conv=notrunc status=none
	sync
	disk_before=$(cksum <"$loop_dev")
	ln -s "$loop_dev" "$WORK/link-to-disk.bmap"
	refused_output "a symbolic link to a block device ($loop_dev)" "$WORK/link-to-disk.bmap"
	[ "$(cksum <"$loop_dev")" = "$disk_before" ] ||
		fail "-o wrote to the block device through a symbolic link"
else
	step "no loop device here: -o a symbolic link to a block device is not checked"
fi

# ---------------------------------------------------------------------
step "an image with no holes: a 'no holes' warning, exit 0; -q silences it"
make_sparse "$WORK/full.img" $((8 * bs)) "0:$((8 * bs))"
expect_exit 0 "$BMAPCREATE" "$WORK/full.img"
grep -q "^$P: warning: .*no holes" "$WORK/stderr" ||
	fail "no '$P: warning: ... no holes' on stderr"
grep -q '<bmap version="1.2">' "$WORK/stdout" || fail "no bmap on stdout"
[ "$(ranges_of "$WORK/stdout")" = "0-7" ] || fail "the full image is not 0-7"
cp "$WORK/stdout" "$WORK/full-warn.bmap"
expect_exit 0 "$BMAPCREATE" -q "$WORK/full.img"
assert_stderr_empty
assert_same "$WORK/full-warn.bmap" "$WORK/stdout" "-q output"

step "a sparse image gives no warning"
expect_exit 0 "$BMAPCREATE" "$img"
assert_stderr_empty

# ---------------------------------------------------------------------
step "--no-checksum writes ranges without checksums in both formats"
want="0
4-5
16"
for fmt in 1.2 2.0; do
	expect_exit 0 "$BMAPCREATE" --format "$fmt" --no-checksum "$img"
	assert_stderr_empty
	grep -q "<bmap version=\"$fmt\">" "$WORK/stdout" ||
		fail "--format $fmt --no-checksum: not a version $fmt bmap"
	if grep -q -e 'sha1=' -e 'chksum=' "$WORK/stdout"; then
		fail "--format $fmt --no-checksum wrote range checksums"
	fi
	[ "$(ranges_of "$WORK/stdout")" = "$want" ] ||
		fail "--format $fmt --no-checksum: wrong ranges"
	expect_exit 0 "$BMAPCREATE" --format "$fmt" "$img"
	[ "$(grep -c -e 'sha1=' -e 'chksum=' "$WORK/stdout")" -eq 3 ] ||
		fail "--format $fmt: not three ranges with checksums"
done

echo "PASS"
