#!/bin/sh
# Benchmark bmap-tools against the reference bmaptool, side by side in one
# run, on a realistic 3 GiB disk image (GPT, FAT32 + ext4, ~1 GiB mapped).
# Prints the median wall time and peak memory of each command over RUNS
# runs (run in turn, A B A B ...), and the ratio ours / reference.
#
# usage: contrib/bench.sh [-n RUNS] [DATADIR]
#   PARTS="create copy decode fs" (the default) chooses what is measured;
#   "decode" times bmapcopy from each packing against the fastest
#   standalone decoder of that packing writing to /dev/null (igzip,
#   lbzip2 -n2, xz -T2, zstd, lz4): the limit for a copy from it.
#   FORMATS="raw gz" limits the copy and bmapfs benchmarks to those
#   packagings.
#   DATADIR (default: bench-data in the build dir) holds disk.img and its
#   compressed forms; they are made with ../shared/bench/make-image.sh
#   (or $MAKE_IMAGE) when missing. Needs GNU time (apt-get install time).
set -eu
runs=5
if [ "${1:-}" = -n ]; then runs=$2; shift 2; fi
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top}
data=${1:-$build/bench-data}
make_image=${MAKE_IMAGE:-$top/../shared/bench/make-image.sh}
bin=$build/src
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x /usr/bin/time ] || { echo "bench: needs GNU time: apt-get install time" >&2; exit 1; }
command -v bmaptool >/dev/null || { echo "bench: needs bmaptool: apt-get install bmap-tools" >&2; exit 1; }
if [ ! -f "$data/disk.img" ] || [ ! -f "$data/disk.img.bmap" ]; then
    echo "bench: making the test image in $data"
    sh "$make_image" "$data" >/dev/null
fi
img=$data/disk.img

# measure NAME CMD...: one run; appends "seconds peak_kib" to $tmp/NAME.
measure() {
    name=$1; shift
    /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" ||
        { cat "$tmp/err" >&2; echo "bench: failed: $*" >&2; exit 1; }
    cat "$tmp/t" >>"$tmp/$name"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() { awk -v c="$2" '{ print $c }' "$tmp/$1" | median; }
row() { # row LABEL OURS REF
    o=$(col "$2" 1); r=$(col "$3" 1)
    om=$(col "$2" 2); rm_=$(col "$3" 2)
    printf '%-28s %8.2f s %8.2f s %7.2f   %6d MiB %6d MiB\n' "$1" "$o" "$r" \
        "$(echo "$o $r" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')" \
        $((om / 1024)) $((rm_ / 1024))
}

parts=${PARTS:-"create copy decode fs"}
has() { case " $parts " in *" $1 "*) return 0 ;; esac; return 1; }
echo "bench: $runs runs each, $(nproc) cores, image $(du -h --apparent-size "$img" | cut -f1) ($(du -h "$img" | cut -f1) mapped)"
cat "$img" >/dev/null   # the same warm page cache for everybody
i=0
has create || i=$runs
while [ $i -lt "$runs" ]; do
    measure create12 "$bin/bmapcreate" -o "$tmp/o12.bmap" "$img"
    measure create20 "$bin/bmapcreate" --format 2.0 -o "$tmp/o20.bmap" "$img"
    measure refcreate bmaptool create -o "$tmp/ref.bmap" "$img"
    i=$((i + 1))
done
if has create; then
    cmp -s "$tmp/o20.bmap" "$tmp/ref.bmap" ||
        { echo "bench: our 2.0 bmap differs from bmaptool's" >&2; exit 1; }
fi

# Copies to a regular file beside the image (the same file system).
out=$data/bench-out.img
formats=${FORMATS:-"raw gz bz2 xz zst lz4"}
for f in $formats; do
    has copy || break
    src=$img; [ "$f" = raw ] || src=$img.$f
    [ -f "$src" ] || { echo "bench: $src is missing" >&2; exit 1; }
    i=0
    while [ $i -lt "$runs" ]; do
        measure "copy_$f" "$bin/bmapcopy" -q --bmap "$img.bmap" "$src" "$out"
        cmp -s "$out" "$img" || { echo "bench: bmapcopy $f: wrong copy" >&2; exit 1; }
        measure "refcopy_$f" bmaptool -q copy --bmap "$img.bmap" "$src" "$out"
        i=$((i + 1))
    done
done
rm -f "$out"

# The fastest standalone decoder of each packing, to /dev/null.
decoder() {
    case $1 in
    gz) echo "igzip -dc" ;; bz2) echo "lbzip2 -n2 -dc" ;;
    xz) echo "xz -T2 -dc" ;; zst) echo "zstd -dc" ;; lz4) echo "lz4 -dc" ;;
    esac
}
dformats=
for f in $formats; do [ "$f" = raw ] || dformats="$dformats $f"; done
for f in $dformats; do
    has decode || break
    dec=$(decoder "$f")
    command -v "${dec%% *}" >/dev/null ||
        { echo "bench: needs ${dec%% *} (contrib/setup.sh installs it)" >&2; exit 1; }
    i=0
    while [ $i -lt "$runs" ]; do
        measure "dcopy_$f" "$bin/bmapcopy" -q --bmap "$img.bmap" "$img.$f" "$out"
        # shellcheck disable=SC2086 # the decoder's options
        measure "dec_$f" $dec "$img.$f"
        i=$((i + 1))
    done
done
rm -f "$out"

printf '\n%-28s %10s %10s %7s   %10s %10s\n' "task (median)" ours reference ratio "ours mem" "ref mem"
if has create; then
    row "create, format 1.2 (SHA-1)" create12 refcreate
    row "create, format 2.0 (SHA-256)" create20 refcreate
fi
for f in $formats; do
    has copy || break
    row "copy $f to a file" "copy_$f" "refcopy_$f"
done

if has decode; then
    printf '\n%-28s %10s %10s %7s   %10s %10s\n' "against the decoder" bmapcopy decoder ratio "ours mem" "dec mem"
    for f in $dformats; do
        row "$f: $(decoder "$f")" "dcopy_$f" "dec_$f"
    done
fi

has fs || exit 0
. "$top/contrib/bench-fs.sh"
