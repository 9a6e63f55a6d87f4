#!/usr/bin/env bash
# benchmarks/containerd-bench.sh: `ctr images import` of the Debian reference image (an OCI
# archive with its one gzip layer) into containerd 2.1 with layerd as snapshotter and differ,
# against containerd's own overlayfs snapshotter and walking differ, in one run: the two
# alternate run by run, medians and their ratio as a table. Twice: with containerd's external
# gzip decompressors (igzip, else unpigz, when on the PATH) and layerd's ISA-L inflate, and with
# neither (CONTAINERD_DISABLE_IGZIP/PIGZ, and layerd's -Dlayerd.isal=false: both in-process
# inflate), so that the same decompressors are available to both sides. Each run also times the
# import without unpacking (containerd's own ingest, the floor of both sides). Not a timed test.
#
#   benchmarks/containerd-bench.sh [-n RUNS] [--data DIR] [--work DIR] [--driver NAME]
#
#   -n RUNS        imports per side and configuration (default 5)
#   --data DIR     where debian.tar{,.gz,.zst} are kept (default $LAYERD_BENCH_DATA or
#                  /var/tmp/layerd-bench-unpack; made by testdata's make-debian-layer.sh when
#                  missing, as benchmarks/compare.sh does)
#   --work DIR     where containerd's and layerd's roots are made (default /var/tmp: a disk, as
#                  /var/lib/containerd is); removed at the end
#   --driver NAME  layerd's driver (default overlay2, the one containerd's overlayfs compares to)
#
# Needs root, containerd 2.1 and ctr (LAYERD_MODERN_CLIENTS, else the tree .ci/modern-clients.sh
# unpacks: /var/cache/layerd-clients/x), runc, a JDK 17 and Maven (./layerd builds itself).
# Optional: igzip (Debian: isal), unpigz (pigz), libisal2 (layerd's ISA-L). It takes the lock the
# end-to-end tests take (LAYERD_E2E_LOCK, default /tmp/layerd-e2e.lock): it starts containerd.
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
argv=("$@")
runs=5 data=${LAYERD_BENCH_DATA:-/var/tmp/layerd-bench-unpack} workbase=/var/tmp driver=overlay2
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --work) workbase=$2; shift 2 ;;
    --driver) driver=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "containerd-bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "containerd-bench.sh: run as root (it starts containerd)" >&2; exit 1; }
# The whole run under the end-to-end tests' lock.
. "$repo/benchmarks/bench-common.sh"
run_locked "${argv[@]}"
clients=${LAYERD_MODERN_CLIENTS:-}
if [ -z "$clients" ]; then
  clients=/var/cache/layerd-clients/x
  [ -x "$clients/usr/bin/containerd" ] || clients=$("$repo/.ci/modern-clients.sh" | tail -n 1)
fi
export PATH="$clients/usr/bin:$clients/usr/sbin:$PATH"
for c in containerd ctr runc sha256sum tar java; do
  command -v "$c" >/dev/null || { echo "containerd-bench.sh: $c is not on PATH" >&2; exit 1; }
done
have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ the image
REPO=$repo
. "$repo/benchmarks/debian-image.sh"
debian_layer "$data" || exit 1
IMAGE=docker.io/library/layerd-bench-debian:latest
archive=$data/debian-oci-archive.tar
debian_oci_archive "$data" "$IMAGE" # an OCI archive whose one layer is debian.tar.gz, named for ctr

# ------------------------------------------------------------------ containerd and layerd
W=$(mktemp -d "$workbase/lcb.XXXXXX")
C=$W/c
mkdir -p "$C"
ctd_pid= layerd_pid=
cleanup() {
  stop "$ctd_pid"; stop "$layerd_pid"
  grep " $W/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$W"
}
trap cleanup EXIT
ctr() { command ctr --address "$C/containerd.sock" --namespace bench "$@"; }

"$repo/layerd" --version >/dev/null # builds it once, outside the measurement
"$repo/layerd" config containerd --data-root "$W/layerd" --containerd-socket "$W/snap.sock" \
  --containerd-root "$C/root" --containerd-state "$C/state" --containerd-address "$C/containerd.sock" \
  --disable-plugin io.containerd.grpc.v1.cri > "$C/config.toml"

# start MODE: layerd and containerd; MODE "external" lets containerd use igzip/unpigz and layerd
# ISA-L, "in-process" neither.
start() {
  local mode=$1 jopts=
  [ "$mode" = in-process ] && jopts=-Dlayerd.isal=false
  JAVA_TOOL_OPTIONS=$jopts "$repo/layerd" --data-root "$W/layerd" --socket "$W/gd.sock" \
    --driver "$driver" --containerd-socket "$W/snap.sock" --containerd-root "$C/root" \
    --containerd-address "$C/containerd.sock" > "$W/layerd-$mode.log" 2>&1 &
  layerd_pid=$!
  for _ in $(seq 300); do [ -S "$W/snap.sock" ] && break; sleep 0.1; done
  [ -S "$W/snap.sock" ] || { echo "layerd did not start:" >&2; tail "$W/layerd-$mode.log" >&2; exit 1; }
  if [ "$mode" = in-process ]; then
    CONTAINERD_DISABLE_IGZIP=1 CONTAINERD_DISABLE_PIGZ=1 containerd --config "$C/config.toml" > "$W/containerd-$mode.log" 2>&1 &
  else
    containerd --config "$C/config.toml" > "$W/containerd-$mode.log" 2>&1 &
  fi
  ctd_pid=$!
  for _ in $(seq 200); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
  ctr version >/dev/null || { echo "containerd did not start:" >&2; tail "$W/containerd-$mode.log" >&2; exit 1; }
}
stopall() { stop "$ctd_pid"; ctd_pid=; stop "$layerd_pid"; layerd_pid=; }


# CPU time (clock ticks) of containerd and layerd, with their children waited for (igzip, unpigz).
tick=$(getconf CLK_TCK)
cpu() { cat "/proc/$ctd_pid/stat" "/proc/$layerd_pid/stat" | awk '{ t += $14 + $15 + $16 + $17 } END { print t }'; }

# import SNAPSHOTTER: one timed import (the image removed and collected first); prints the seconds
# it took and the CPU seconds containerd and layerd spent on it. SNAPSHOTTER "none": the import
# without unpacking (--no-unpack), containerd's own ingest of the archive, the same for both sides.
import() {
  ctr images rm --sync "$IMAGE" >/dev/null 2>&1 || true
  sync
  local t0 t1 c0 c1 how=(--snapshotter "$1")
  [ "$1" = none ] && how=(--no-unpack)
  c0=$(cpu); t0=$(now)
  ctr images import "${how[@]}" "$archive" >/dev/null
  t1=$(now); c1=$(cpu)
  awk -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v k="$tick" \
    'BEGIN { printf "%.3f %.2f\n", b - a, (d - c) / k }'
}

declare -A result
for mode in external in-process; do
  start "$mode"
  # One untimed import each: the JVM's classes loaded and compiled, the page cache warm.
  import layerd >/dev/null; import overlayfs >/dev/null
  ours=() theirs=() ourcpu=() theircpu=() ingest=()
  for i in $(seq "$runs"); do
    read -r t c < <(import layerd); ours+=("$t"); ourcpu+=("$c")
    read -r t c < <(import overlayfs); theirs+=("$t"); theircpu+=("$c")
    read -r t c < <(import none); ingest+=("$t")
    echo "  $mode run $i: layerd ${ours[-1]} s (${ourcpu[-1]} s CPU)," \
      "overlayfs+walking ${theirs[-1]} s (${theircpu[-1]} s CPU), ingest alone ${ingest[-1]} s;" \
      "load $(cut -d' ' -f1 /proc/loadavg)" >&2
  done
  # The layer went through layerd's differ (its log says so), not the walking differ.
  grep -q "apply sha256:.*pipeline into" "$W/layerd-$mode.log" \
    || { echo "containerd-bench.sh: layerd's differ applied nothing; see $W/layerd-$mode.log" >&2; exit 1; }
  result[$mode.ours]=$(median "${ours[@]}") result[$mode.theirs]=$(median "${theirs[@]}")
  result[$mode.ourcpu]=$(median "${ourcpu[@]}") result[$mode.theircpu]=$(median "${theircpu[@]}")
  result[$mode.ingest]=$(median "${ingest[@]}")
  ctr images rm --sync "$IMAGE" >/dev/null 2>&1 || true
  stopall
done

gz=external
if [ "$(command -v igzip)" ]; then gz="igzip"; elif [ "$(command -v unpigz)" ]; then gz="unpigz"; else gz="none on PATH"; fi
isal=no; ldconfig -p 2>/dev/null | grep -q 'libisal\.so\.2' && isal=yes
echo
echo "ctr images import of the Debian reference image (OCI archive, $(stat -c %s "$data/debian.tar.gz") B gzip layer," \
  "$(stat -c %s "$data/debian.tar") B tar), containerd $(containerd --version | awk '{print $3}'), layerd on $driver," \
  "$runs runs each, alternating, medians; $(nproc) cores; $(date -u +%F)"
echo
echo "| gzip decompression | layerd (snapshotter + differ) | overlayfs + walking differ | layerd / overlayfs | target | CPU s, layerd's side | CPU s, overlayfs's | CPU ratio | ingest alone (--no-unpack) | its ratio: the floor |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for mode in external in-process; do
  if [ "$mode" = external ]; then what="external: containerd $gz, layerd ISA-L ($isal)"; else what="in-process: Go's and java.util.zip"; fi
  echo "| $what | ${result[$mode.ours]} s | ${result[$mode.theirs]} s |" \
    "**$(ratio "${result[$mode.ours]}" "${result[$mode.theirs]}")x** | <= 0.6x |" \
    "${result[$mode.ourcpu]} | ${result[$mode.theircpu]} | $(ratio "${result[$mode.ourcpu]}" "${result[$mode.theircpu]}")x |" \
    "${result[$mode.ingest]} s | $(ratio "${result[$mode.ingest]}" "${result[$mode.theirs]}")x |"
done
echo
echo "CPU: containerd's and layerd's own, with their waited-for children (igzip, unpigz); ctr's aside."
echo "Ingest alone: ctr images import --no-unpack, the part both sides share; its ratio is what an apply"
echo "taking no time at all would give."
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows both sides)."
echo
echo "Reproduce: benchmarks/containerd-bench.sh -n $runs --driver $driver"
