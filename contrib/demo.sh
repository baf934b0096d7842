#!/bin/sh
# The demo (make demo): build a sample sparse disk image with an ext4 file
# system in it, write its bmap with bmapcreate, compress the image, flash
# it with bmapcopy to a loop device (or a file where there is none) and
# check the result; the reference tool flashes it by our bmap too.
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

echo "== compress it (zstd) and flash it with bmapcopy, by its bmap"
zstd -q -T2 -c "$demo/disk.img" >"$demo/disk.img.zst"
cp "$demo/disk.img.bmap" "$demo/disk.img.zst.bmap"
truncate -s 300M "$demo/card.img"    # a pretend SD card
target=$demo/card.img
loop=
if [ "$(id -u)" = 0 ] && loop=$(losetup -f --show "$demo/card.img" 2>/dev/null); then
    target=$loop
    trap 'losetup -d "$loop"' EXIT
    echo "   (to the loop device $loop)"
else
    echo "   (to the file card.img: no loop device here)"
fi
"$build/src/bmapcopy" "$demo/disk.img.zst" "$target"
cmp -n "$(stat -c %s "$demo/disk.img")" "$demo/disk.img" "$target"
echo "   the card holds exactly the image"

if command -v bmaptool >/dev/null 2>&1; then
    echo "== the reference tool flashes it by our bmap too"
    bmaptool -q copy --bmap "$demo/disk.img.bmap" "$demo/disk.img.zst" \
        "$demo/flashed.img"
    cmp "$demo/disk.img" "$demo/flashed.img"
    echo "   flashed.img is identical to disk.img"
fi
echo "== demo done: files in $demo"
