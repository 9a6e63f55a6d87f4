#!/usr/bin/env bash
# benchmarks/compare.sh: layerctl unpack against GNU tar, umoci and the decompression-only bounds,
# whole processes (JVM start included), on the same inputs, in one run: every command RUNS times,
# the commands of a group alternating run by run; medians, ratios and peak RSS as a table.
#
#   benchmarks/compare.sh [-n RUNS] [--data DIR] [--tmpfs DIR] [--disk DIR] [--no-disk] [--no-rss]
#
#   -n RUNS      runs of each command (default 7)
#   --data DIR   where the inputs are kept (default $LAYERD_BENCH_DATA or /var/tmp/layerd-bench-unpack):
#                debian.tar{,.gz,.zst} (made by testdata's make-debian-layer.sh when missing, about a
#                minute), an OCI layout of the gzip layer for umoci, and the 2 GiB layer of the RSS
#                check (one 1 GiB file and 50,000 files of 20 KiB), made on first use
#   --tmpfs DIR  a directory on tmpfs to extract into (default /dev/shm)
#   --disk DIR   a directory on disk to extract into (default /var/tmp); synced before every run
#   --no-disk    tmpfs only;  --no-rss: skip the 2 GiB layer
#
# Needs: tar, gzip, zstd; optional: pigz, igzip (Debian: isal), umoci, GNU time (/usr/bin/time,
# for peak RSS). layerctl runs through ./layerctl.sh (built, with its CDS archive, on first use).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=7 data=${LAYERD_BENCH_DATA:-/var/tmp/layerd-bench-unpack} tmpfs=/dev/shm disk=/var/tmp
do_disk=1 do_rss=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --tmpfs) tmpfs=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --no-disk) do_disk=0; shift ;;
    --no-rss) do_rss=0; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
have() { command -v "$1" >/dev/null 2>&1; }
for t in tar gzip zstd; do have "$t" || { echo "compare.sh: $t is needed" >&2; exit 1; }; done
timebin=; [ -x /usr/bin/time ] && timebin=/usr/bin/time
[ -n "$timebin" ] || echo "compare.sh: no /usr/bin/time (Debian: apt-get install time): no peak RSS" >&2

# ------------------------------------------------------------------ inputs
mkdir -p "$data"
if [ ! -s "$data/debian.tar" ] || [ ! -s "$data/debian.tar.gz" ] || [ ! -s "$data/debian.tar.zst" ]; then
  maker=
  for m in "${LAYERD_MAKE_DEBIAN_LAYER:-}" "$repo/../shared/testdata/make-debian-layer.sh"; do
    [ -n "$m" ] && [ -f "$m" ] && { maker=$m; break; }
  done
  [ -n "$maker" ] || { echo "compare.sh: no make-debian-layer.sh (set LAYERD_MAKE_DEBIAN_LAYER)" >&2; exit 1; }
  echo "compare.sh: building the Debian reference layer in $data (about a minute)..." >&2
  bash "$maker" "$data" >&2
fi
if have umoci && [ ! -f "$data/oci/index.json" ]; then
  # An OCI image layout whose one layer is debian.tar.gz, for 'umoci raw unpack'.
  rm -rf "$data/oci.tmp" && mkdir -p "$data/oci.tmp/blobs/sha256" && (
    cd "$data/oci.tmp"
    sum() { sha256sum "$1" | cut -d' ' -f1; }
    gz=$(sum ../debian.tar.gz) diff=$(sum ../debian.tar)
    ln -f ../debian.tar.gz "blobs/sha256/$gz" 2>/dev/null || cp ../debian.tar.gz "blobs/sha256/$gz"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{}}' \
      "$diff" > c.json
    c=$(sum c.json); cs=$(stat -c %s c.json); mv c.json "blobs/sha256/$c"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
      "$c" "$cs" "$gz" "$(stat -c %s ../debian.tar.gz)" > m.json
    m=$(sum m.json); ms=$(stat -c %s m.json); mv m.json "blobs/sha256/$m"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
      "$m" "$ms" > index.json
    echo '{"imageLayoutVersion":"1.0.0"}' > oci-layout
  ) && rm -rf "$data/oci" && mv "$data/oci.tmp" "$data/oci"
fi
if [ "$do_rss" = 1 ] && { [ ! -s "$data/big.tar" ] || [ ! -s "$data/big.tar.gz" ]; }; then
  echo "compare.sh: making the 2 GiB layer (1 GiB file + 50,000 x 20 KiB) in $data..." >&2
  rm -rf "$data/big.tree" && mkdir -p "$data/big.tree/small"
  head -c 1073741824 /dev/urandom > "$data/big.tree/one-gib"
  { yes 'layerd: fifty thousand small files for the peak RSS check' || true; } \
    | head -c $((50000 * 20480)) | (cd "$data/big.tree/small" && split -b 20480 -d -a 5 - f)
  tar --numeric-owner -C "$data/big.tree" -cf "$data/big.tar" .
  if have pigz; then pigz -1 -c "$data/big.tar" > "$data/big.tar.gz"; else gzip -1 -c "$data/big.tar" > "$data/big.tar.gz"; fi
  rm -rf "$data/big.tree"
fi

# ------------------------------------------------------------------ layerctl
"$repo/layerctl.sh" --version >/dev/null # builds it and its CDS archive when needed
layerctl="$repo/layerctl.sh"

# ------------------------------------------------------------------ running
work=$(mktemp -d /tmp/layerd-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
declare -A times rss

# run KEY DEST-PARENT CMD...: one timed run; DEST is DEST-PARENT/out (removed before, synced on disk)
run_one() {
  local key=$1 parent=$2; shift 2
  local dest="$parent/layerd-compare-out"
  rm -rf --one-file-system "$dest"
  case "$key" in *tar-x*) mkdir -p "$dest" ;; esac
  [ "$parent" = "$disk" ] && sync -f "$parent"
  local argv=()
  local a
  for a in "$@"; do argv+=("${a//@DEST@/$dest}"); done
  local t0=${EPOCHREALTIME/./} t1
  if [ -n "$timebin" ]; then
    "$timebin" -f %M -o "$work/rss" "${argv[@]}" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  else
    "${argv[@]}" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  fi
  t1=${EPOCHREALTIME/./}
  times[$key]+="$((t1 - t0)) "
  [ -n "$timebin" ] && rss[$key]+="$(tail -1 "$work/rss") "
  rm -rf --one-file-system "$dest"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
secs() { local m; m=$(median <<<"${times[$1]:-}"); [ -n "$m" ] && awk -v u="$m" 'BEGIN{printf "%.3f", u/1e6}'; }
mib() { local m; m=$(median <<<"${rss[$1]:-}"); [ -n "$m" ] && awk -v k="$m" 'BEGIN{printf "%d", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b == 0) print "-"; else printf "%.2fx", a/b }'; }
maxof() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "") print b; else if (b == "" || a > b) print a; else print b }'; }

# group NAME PARENT: runs the commands named in the array `cmds` (KEY|argv...) alternating
group() {
  local parent=$1 r c
  for ((r = 1; r <= runs; r++)); do
    for c in "${cmds[@]}"; do
      IFS='|' read -r -a parts <<<"$c"
      run_one "${parts[0]}@$parent" "$parent" "${parts[@]:1}"
    done
    printf '.' >&2
  done
}

D=$data
targets=("$tmpfs"); [ "$do_disk" = 1 ] && targets+=("$disk")
for parent in "${targets[@]}"; do
  echo "compare.sh: $runs runs of each command into $parent" >&2
  # gzip
  cmds=("layerctl-gz|$layerctl|unpack|$D/debian.tar.gz|@DEST@" "tar-xpzf|tar|-C|@DEST@|-xpzf|$D/debian.tar.gz")
  have umoci && [ -f "$D/oci/index.json" ] && cmds+=("umoci|umoci|raw|unpack|--image|$D/oci:bench|@DEST@")
  cmds+=("tar-xpf|tar|-C|@DEST@|-xpf|$D/debian.tar")
  group "$parent"
  # zstd and plain
  cmds=("layerctl-zst|$layerctl|unpack|$D/debian.tar.zst|@DEST@" "tar-xzst|tar|-C|@DEST@|--zstd|-xpf|$D/debian.tar.zst"
        "layerctl-tar|$layerctl|unpack|$D/debian.tar|@DEST@" "tar-xpf|tar|-C|@DEST@|-xpf|$D/debian.tar")
  group "$parent"
  echo >&2
done
# decompression only (no writes: the same on any target)
cmds=("gzip-dc|gzip|-dc|$D/debian.tar.gz" "zstd-dc|zstd|-dc|$D/debian.tar.zst")
have pigz && cmds+=("pigz-dc|pigz|-dc|$D/debian.tar.gz")
have igzip && cmds+=("igzip-dc|igzip|-dc|$D/debian.tar.gz")
echo "compare.sh: decompression only" >&2
group "$tmpfs"
echo >&2
if [ "$do_rss" = 1 ]; then
  echo "compare.sh: the 2 GiB layer (peak RSS)" >&2
  runs_saved=$runs; runs=3
  cmds=("big-gz|$layerctl|unpack|$D/big.tar.gz|@DEST@" "big-tar|$layerctl|unpack|$D/big.tar|@DEST@")
  group "$tmpfs"
  runs=$runs_saved
  echo >&2
fi

# ------------------------------------------------------------------ the table
echo
echo "Debian bookworm minbase layer: $(stat -c %s "$D/debian.tar") B tar, $(stat -c %s "$D/debian.tar.gz") B gzip, $(stat -c %s "$D/debian.tar.zst") B zstd; $runs runs each, medians; $(nproc) cores; $(date -u +%F)"
echo
printf '| %-6s | %-6s | %-34s | %9s | %11s | %-40s |\n' format target command "median s" "peak RSS" "ratio of layerctl's time"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------" "--------" "------------------------------------" "-----------" "-------------" "------------------------------------------"
row() { printf '| %-6s | %-6s | %-34s | %9s | %7s MiB | %-40s |\n' "$1" "$2" "$3" "${4:-n/a}" "${5:-?}" "$6"; }
dc_gz=$(secs "igzip-dc@$tmpfs"); [ -n "$dc_gz" ] || dc_gz=$(secs "gzip-dc@$tmpfs")
dc_zst=$(secs "zstd-dc@$tmpfs")
for parent in "${targets[@]}"; do
  name=tmpfs; [ "$parent" = "$disk" ] && name=disk
  l=$(secs "layerctl-gz@$parent") t=$(secs "tar-xpzf@$parent") u=$(secs "umoci@$parent") w=$(secs "tar-xpf@$parent")
  row gzip "$name" "layerctl unpack" "$l" "$(mib "layerctl-gz@$parent")" \
    "$(ratio "$l" "$t") tar, $(ratio "$l" "$u") umoci, $(ratio "$l" "$(maxof "$dc_gz" "$w")") bound"
  row gzip "$name" "tar -xpzf" "$t" "$(mib "tar-xpzf@$parent")" ""
  [ -n "$u" ] && row gzip "$name" "umoci raw unpack" "$u" "$(mib "umoci@$parent")" ""
  l=$(secs "layerctl-zst@$parent") t=$(secs "tar-xzst@$parent")
  row zstd "$name" "layerctl unpack" "$l" "$(mib "layerctl-zst@$parent")" \
    "$(ratio "$l" "$t") tar, $(ratio "$l" "$(maxof "$dc_zst" "$w")") bound"
  row zstd "$name" "tar --zstd -xpf" "$t" "$(mib "tar-xzst@$parent")" ""
  l=$(secs "layerctl-tar@$parent")
  row tar "$name" "layerctl unpack" "$l" "$(mib "layerctl-tar@$parent")" "$(ratio "$l" "$w") tar (the write-only bound)"
  row tar "$name" "tar -xpf (write-only bound)" "$w" "$(mib "tar-xpf@$parent")" ""
done
row gzip - "gzip -dc (zlib)" "$(secs "gzip-dc@$tmpfs")" "$(mib "gzip-dc@$tmpfs")" "decompression only"
have pigz && row gzip - "pigz -dc" "$(secs "pigz-dc@$tmpfs")" "$(mib "pigz-dc@$tmpfs")" "decompression only"
have igzip && row gzip - "igzip -dc (ISA-L)" "$(secs "igzip-dc@$tmpfs")" "$(mib "igzip-dc@$tmpfs")" "decompression only (gzip's bound)"
row zstd - "zstd -dc" "$dc_zst" "$(mib "zstd-dc@$tmpfs")" "decompression only (zstd's bound)"
if [ "$do_rss" = 1 ]; then
  row gzip tmpfs "layerctl unpack, 2 GiB layer" "$(secs "big-gz@$tmpfs")" "$(mib "big-gz@$tmpfs")" "1 GiB file + 50,000 small files"
  row tar tmpfs "layerctl unpack, 2 GiB layer" "$(secs "big-tar@$tmpfs")" "$(mib "big-tar@$tmpfs")" "1 GiB file + 50,000 small files"
fi
echo
echo "bound: the larger of the decompression-only time (igzip -dc, else gzip -dc; zstd -dc) and the"
echo "write-only time (tar -xpf on the same target)."
