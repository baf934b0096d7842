#!/bin/sh
# The demo (make demo): build a sample sparse disk image with an ext4 file
# system in it, write its bmap with bmapcreate, compress the image, mount
# it with bmapfs, look inside it (loop-mounting the file system, as root),
# flash it from the mount with bmapcopy to a loop device (or a file where
# there is none) and check the result; the reference tool flashes the
# compressed image by our bmap too.
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

echo "== compress it (xz, in blocks) and mount it with bmapfs"
xz -T2 -6 -c "$demo/disk.img" >"$demo/disk.img.xz"
cp "$demo/disk.img.bmap" "$demo/disk.img.xz.bmap"
truncate -s 300M "$demo/card.img"    # a pretend SD card
target=$demo/card.img
loop=
mnt=$demo/mnt
cleanup() {
    if [ -n "${root:-}" ]; then umount "$root" 2>/dev/null || :; fi
    if [ -n "${inside:-}" ]; then losetup -d "$inside" 2>/dev/null || :; fi
    if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt"; fi
    if [ -n "$loop" ]; then losetup -d "$loop"; fi
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ] && loop=$(losetup -f --show "$demo/card.img" 2>/dev/null); then
    target=$loop
fi

if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1; then
    mkdir -p "$mnt"
    "$build/src/bmapfs" -o "index_dir=$demo/index" "$demo/disk.img.xz" "$mnt"
    ls -ls "$mnt" | sed 's/^/   /'
    echo "   (sparse: its blocks count only the mapped data; nothing was decompressed)"
    if [ -n "$loop" ]; then
        echo "== look inside without unpacking: loop-mount its ext4 read-only"
        inside=$(losetup -r -f --show "$mnt/disk.raw")
        root=$demo/root
        mkdir -p "$root"
        mount -o ro "$inside" "$root"
        echo "   $(find "$root" -type f | wc -l) files; e.g. $(ls "$root" | head -n 3 | tr '\n' ' ')"
        umount "$root"; root=
        losetup -d "$inside"; inside=
    fi
    echo "== flash it from the mount with bmapcopy (holes found with SEEK_DATA/SEEK_HOLE)"
    [ -z "$loop" ] || echo "   (to the loop device $loop)"
    [ -n "$loop" ] || echo "   (to the file card.img: no loop device here)"
    "$build/src/bmapcopy" "$mnt/disk.raw" "$target"
    echo "   (bmapfs checked every range against its bmap checksum as it was read)"
    fusermount3 -u "$mnt"
else
    echo "== no FUSE here: flash it with bmapcopy straight from disk.img.xz"
    "$build/src/bmapcopy" "$demo/disk.img.xz" "$target"
fi
cmp -n "$(stat -c %s "$demo/disk.img")" "$demo/disk.img" "$target"
echo "   the card holds exactly the image"

if command -v bmaptool >/dev/null 2>&1; then
    echo "== the reference tool flashes it by our bmap too"
    bmaptool -q copy --bmap "$demo/disk.img.bmap" "$demo/disk.img.xz" \
        "$demo/flashed.img"
    cmp "$demo/disk.img" "$demo/flashed.img"
    echo "   flashed.img is identical to disk.img"
fi
echo "== demo done: files in $demo"
