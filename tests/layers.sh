#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# layers.sh - the library's folders depend one way only, read from the
# #include lines: base <- bmap <- codec <- {copy, fs}. A file may include
# the public bmap.h, config.h, system headers (<...>) and headers of its
# own folder or of a folder below it; copy/ and fs/ never include each
# other. Then the same check is shown to fail on planted wrong-way and
# sideways includes, so this test can fail.
. "$top_srcdir/tests/common.sh"

# rank FOLDER: its layer, or nothing for a folder that is no layer.
rank() {
	case $1 in
	base) echo 0 ;;
	bmap) echo 1 ;;
	codec) echo 2 ;;
	copy | fs) echo 3 ;;
	esac
}

# check_tree LIBDIR: print every include that breaks the rules; exit
# status 1 when there is one.
check_tree() {
	_bad=0
	# The public header stands alone.
	if grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' \
		"$1/bmap.h" >"$WORK/pub"; then
		sed "s|^|$1/bmap.h:|; s|\$|: the public header includes a library header|" "$WORK/pub"
		_bad=1
	fi
	for _f in "$1"/*/*.c "$1"/*/*.h; do
		_dir=$(basename "$(dirname "$_f")")
		_r=$(rank "$_dir")
		if [ -z "$_r" ]; then
			echo "$_f: folder $_dir is no layer (base bmap codec copy fs)"
			_bad=1
			continue
		fi
		# "name" includes, one per line: line number and name.
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' \
			"$_f" >"$WORK/inc"
		while read -r _inc; do
			case $_inc in
			config.h | bmap.h) continue ;;
			*/*) ;;
			*)
				echo "$_f: \"$_inc\": name a library header by its folder"
				_bad=1
				continue
				;;
			esac
			_to=${_inc%%/*}
			_tr=$(rank "$_to")
			if [ -z "$_tr" ]; then
				echo "$_f: \"$_inc\": $_to is no layer"
				_bad=1
			elif [ "$_to" != "$_dir" ] && [ "$_tr" -ge "$_r" ]; then
				echo "$_f: \"$_inc\": $_dir/ may not include $_to/"
				_bad=1
			fi
		done <"$WORK/inc"
	done
	return $_bad
}

LIB=$top_srcdir/src/lib

step "the tree keeps the layers"
check_tree "$LIB" || fail "an include goes the wrong way (above)"

# plant FILE LINE: a copy of the library with LINE added to FILE; the
# check must fail on it.
plant() {
	rm -rf "$WORK/lib"
	cp -R "$LIB" "$WORK/lib"
	printf '%s\n' "$2" >>"$WORK/lib/$1"
	if check_tree "$WORK/lib" >"$WORK/out"; then
		fail "a planted $2 in $1 was not found"
	fi
	grep -q "$1" "$WORK/out" || fail "the report does not name $1"
	cat "$WORK/out"
}

step "a wrong-way include fails the check"
plant base/error.c '#include "codec/codec.h"'
plant codec/registry.c '#include "fs/ra.h"'
step "a sideways include fails the check"
plant fs/ra.c '#include "copy/x.h"'
plant copy/copy.c '#include "fs/ra.h"'
step "a bare library header name fails the check"
plant fs/view.c '#include "strbuf.h"'
step "the public header may not include a library header"
plant bmap.h '#include "base/error.h"'
