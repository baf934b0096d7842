#!/bin/sh
# The demo (make demo): build a sample sparse disk image with an ext4 file
# system in it, write its bmap with bmapcreate, and check with the
# reference tool that the bmap flashes the image exactly.
#
# usage: contrib/demo.sh BUILDDIR
set -eu
build=${1:?usage: demo.sh BUILDDIR}
demo=$build/demo
rm -rf "$demo"
mkdir -p "$demo"

echo "== a 256 MiB sparse disk image: ext4 holding /usr/share/doc"
truncate -s 256M "$demo/disk.img"
mkfs.ext4 -q -F -L demo -d /usr/share/doc "$demo/disk.img"
du -h --apparent-size "$demo/disk.img" | sed 's/^/   apparent size: /'
du -h "$demo/disk.img" | sed 's/^/   on disk:       /'

echo "== bmapcreate -o disk.img.bmap disk.img"
"$build/src/bmapcreate" -o "$demo/disk.img.bmap" "$demo/disk.img"
grep -E 'Image size|mapped blocks' "$demo/disk.img.bmap" | sed 's/^ */   /'
echo "   $(grep -c '<Range' "$demo/disk.img.bmap") ranges, each with its SHA-1"

if command -v bmaptool >/dev/null 2>&1; then
    echo "== the reference tool flashes it by our bmap, to a file"
    bmaptool -q copy --bmap "$demo/disk.img.bmap" "$demo/disk.img" \
        "$demo/flashed.img"
    cmp "$demo/disk.img" "$demo/flashed.img"
    echo "   flashed.img is identical to disk.img"
fi
echo "== demo done: files in $demo"
