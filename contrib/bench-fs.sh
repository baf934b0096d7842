# shellcheck shell=sh
# bmapfs benchmarks, sourced by contrib/bench.sh (which sets img, bin, tmp,
# runs, formats, measure, col): for each packing,
#  - first-read latencies just after mounting with an empty index folder:
#    4 KiB at 2 GiB (a hole in the benchmark image), at the first data
#    block from 2 GiB on, then at 1 GiB; with checksums verified (the
#    default: the first read of a range decodes and hashes all of it) and
#    with -o noverify; and once more on a second mount that finds the seek
#    points the first one kept;
#  - the time to decode the stream up to that data block with the
#    format's own command-line tool, the yardstick for gz and zst;
#  - sequential speed: bmapcopy from the mount (a fresh one, then one
#    that finds the seek points the first kept) against bmapcopy --bmap
#    straight from the compressed file (speed ratio, 1.0 = as fast).
fs_runs=${FS_RUNS:-3}
[ -c /dev/fuse ] || { echo "bench: no /dev/fuse: bmapfs not measured"; exit 0; }
mnt=$tmp/mnt
mkdir -p "$mnt"
bs=$(sed -n 's|.*<BlockSize>[[:space:]]*\([0-9]*\).*|\1|p' "$img.bmap")
g1=1073741824
g2=2147483648
# The first mapped block at or after 2 GiB.
data=$(sed -n 's|.*<Range[^>]*>[[:space:]]*\([0-9-]*\)[[:space:]]*</Range>.*|\1|p' \
       "$img.bmap" | awk -F- -v bs="$bs" -v g2="$g2" '
       { e = ($NF + 1) * bs; s = $1 * bs
         if (e > g2) { printf "%.0f\n", (s > g2 ? s : g2); exit } }')

fs_umount() {
    fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt"
    while pgrep -f "bmapfs.*$mnt" >/dev/null; do sleep 0.05; done
}
trap 'mountpoint -q "$mnt" && fusermount3 -uz "$mnt"; rm -rf "$tmp"' EXIT

# reads FILE OFFSET...: seconds each 4 KiB read took, in turn, one line.
reads() {
    /usr/bin/python3 - "$@" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
out = []
for off in sys.argv[2:]:
    t = time.perf_counter()
    if len(os.pread(fd, 4096, int(off))) != 4096:
        sys.exit("short read at " + off)
    out.append("%.4f" % (time.perf_counter() - t))
print(" ".join(out))
PY
}

dec_cmd() {
    case $1 in
    gz) echo "gzip -dc" ;; bz2) echo "bzip2 -dc" ;; xz) echo "xz -dc" ;;
    zst) echo "zstd -dc" ;; lz4) echo "lz4 -dc" ;; *) echo cat ;;
    esac
}

out=$(dirname "$img")/bench-out.img
for f in $formats; do
    [ "$f" != raw ] || continue
    src=$img.$f
    i=0
    while [ $i -lt "$fs_runs" ]; do
        for how in verify noverify; do
            rm -rf "$tmp/idx"
            o=index_dir=$tmp/idx
            [ $how = verify ] || o=$o,noverify
            "$bin/bmapfs" --bmap "$img.bmap" -o "$o" "$src" "$mnt"
            reads "$mnt/disk.raw" "$g2" "$data" "$g1" >>"$tmp/lat_${how}_$f"
            fs_umount
        done
        # A second mount: the index folder of the last one is still there.
        "$bin/bmapfs" --bmap "$img.bmap" -o "index_dir=$tmp/idx" "$src" "$mnt"
        reads "$mnt/disk.raw" "$data" "$g1" >>"$tmp/lat_again_$f"
        fs_umount
        measure "dec_$f" sh -c "$(dec_cmd "$f") <'$src' | head -c $data >/dev/null"
        # Sequential: from a fresh mount, and straight from the file.
        rm -rf "$tmp/idx"
        "$bin/bmapfs" --bmap "$img.bmap" -o "index_dir=$tmp/idx" "$src" "$mnt"
        measure "fscopy_$f" "$bin/bmapcopy" -q "$mnt/disk.raw" "$out"
        # The daemon's peak memory (its cache included).
        pid=$(pgrep -f "bmapfs.*$mnt" | head -n 1)
        awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" >>"$tmp/mem_$f"
        fs_umount
        # Again, on a mount that finds the seek points the first one kept.
        "$bin/bmapfs" --bmap "$img.bmap" -o "index_dir=$tmp/idx" "$src" "$mnt"
        measure "fscopy2_$f" "$bin/bmapcopy" -q "$mnt/disk.raw" "$out"
        fs_umount
        cmp -s "$out" "$img" || { echo "bench: bmapcopy from bmapfs $f: wrong copy" >&2; exit 1; }
        measure "copy2_$f" "$bin/bmapcopy" -q --bmap "$img.bmap" "$src" "$out"
        i=$((i + 1))
    done
done
rm -f "$out"

lat() { # lat FILE COLUMN: median seconds
    awk -v c="$2" '{ print $c }' "$tmp/$1" | median
}
echo
echo "bmapfs, median of $fs_runs runs; data block at $data bytes"
printf '%-5s %-27s %-27s %-17s %9s   %s\n' "" \
    "verify: 2G / data / 1G" "noverify: 2G / data / 1G" "again: data / 1G" \
    "decode to" "sequential: mount, again / direct = speed ratios (bmapfs peak memory)"
for f in $formats; do
    [ "$f" != raw ] || continue
    m=$(col "fscopy_$f" 1); m2=$(col "fscopy2_$f" 1); d=$(col "copy2_$f" 1)
    printf '%-5s %7.3f %7.3f %7.3f s   %7.3f %7.3f %7.3f s   %7.3f %7.3f s %7.2f s   %6.2f, %6.2f / %6.2f s = %.2f, %.2f  (%d MiB)\n' "$f" \
        "$(lat "lat_verify_$f" 1)" "$(lat "lat_verify_$f" 2)" "$(lat "lat_verify_$f" 3)" \
        "$(lat "lat_noverify_$f" 1)" "$(lat "lat_noverify_$f" 2)" "$(lat "lat_noverify_$f" 3)" \
        "$(lat "lat_again_$f" 1)" "$(lat "lat_again_$f" 2)" \
        "$(col "dec_$f" 1)" "$m" "$m2" "$d" \
        "$(echo "$m $d" | awk '{ print ($1 > 0 ? $2 / $1 : 0) }')" \
        "$(echo "$m2 $d" | awk '{ print ($1 > 0 ? $2 / $1 : 0) }')" \
        $(($(median <"$tmp/mem_$f") / 1024))
done
