#!/usr/bin/env bash
# benchmarks/docker-containerd-bench.sh: Docker 28 on containerd 2.1 with layerd (snapshotter and
# differ) against the same Docker and containerd on containerd's overlayfs snapshotter and walking
# differ. Both sides run at once and alternate run by run; medians and their ratios as a table.
# Not a timed test.
#
#   load    rootful `docker load` of the Debian reference image (an OCI archive with its one gzip
#           layer): one containerd (layerd's config) and layerd, two dockerds on it, one with
#           --storage-driver layerd and one with overlayfs, each in its own containerd namespace.
#           Twice: with the external gzip decompressors (containerd's igzip or unpigz when on the
#           PATH, layerd's ISA-L) and with neither (CONTAINERD_DISABLE_IGZIP/PIGZ for containerd and
#           dockerd, -Dlayerd.isal=false), so that both sides have the same decompressors.
#   commit  rootless `docker commit`, as an unprivileged user: two `layerd rootless-containerd
#           --docker` stacks (rootlesskit with slirp4netns; layerd, containerd, dockerd --rootless),
#           one with dockerd's --storage-driver layerd and one with overlayfs. Commits of a
#           container of the Debian image that copied its /usr (cp -a /usr /copy), of one that
#           appended to 10 files, and of one that changed nothing (dockerd's cost and the
#           differ's fixed cost).
#   build   rootless `docker build --no-cache` of a Dockerfile of 5 RUN steps on the Debian image
#           (no registry: FROM the loaded image, steps that work offline), on the same stacks.
#
#   benchmarks/docker-containerd-bench.sh [-n RUNS] [--only load|commit|build] [--data DIR]
#                                         [--work DIR] [--user NAME]
#
#   -n RUNS      runs per side and measurement (default 5)
#   --only PART  only this part (repeatable; default all three)
#   --data DIR   where debian.tar{,.gz,.zst} are kept (default $LAYERD_BENCH_DATA or
#                /var/tmp/layerd-bench-unpack; made by testdata's make-debian-layer.sh when missing)
#   --work DIR   where the daemons' roots are made (default /var/tmp: the disk); removed at the end
#   --user NAME  the rootless parts' user, with subordinate ids (default layerd-test)
#
# Needs root, the clients .ci/modern-clients.sh unpacks (Docker 28.5.2, containerd 2.1.9, buildx,
# rootlesskit; or LAYERD_MODERN_CLIENTS), runc, slirp4netns, setpriv, kernel 5.11+ (overlay in a
# user namespace), a JDK 17 and Maven (./layerd builds itself). It takes the lock the end-to-end
# tests take (LAYERD_E2E_LOCK, default /tmp/layerd-e2e.lock) and opens /dev/net/tun to users for
# slirp4netns while it runs (its mode is put back). Everything it starts is stopped at the end,
# also on failure.
set -euo pipefail
shopt -s inherit_errexit # a failing command in $(...) fails the run
repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
runs=5 data=${LAYERD_BENCH_DATA:-/var/tmp/layerd-bench-unpack} workbase=/var/tmp user=layerd-test
parts=() only= argv=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    --only) parts+=("$2"); only+=" --only $2"; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --work) workbase=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker-containerd-bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(load commit build)
want() { [[ " ${parts[*]} " == *" $1 "* ]]; }
fail() { echo "docker-containerd-bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (it starts containerd and dockerd, and switches to $user)"
clients=${LAYERD_MODERN_CLIENTS:-}
if [ -z "$clients" ]; then
  clients=/var/cache/layerd-clients/x
  [ -x "$clients/usr/sbin/dockerd" ] || clients=$("$repo/.ci/modern-clients.sh" | tail -n 1)
fi
export PATH="$clients/usr/bin:$clients/usr/sbin:$PATH"
for c in containerd ctr dockerd docker rootlesskit slirp4netns runc setpriv java tar sha256sum flock; do
  command -v "$c" >/dev/null || fail "$c is not on PATH"
done
DOCKER=$(command -v docker)
JAVA=$(readlink -f "$(command -v java)")

# The whole run under the end-to-end tests' lock.
. "$repo/benchmarks/bench-common.sh"
run_locked "${argv[@]}"

# ------------------------------------------------------------------ the image
REPO=$repo
. "$repo/benchmarks/debian-image.sh"
debian_layer "$data" || exit 1
IMAGE=docker.io/library/layerd-bench-debian:latest
archive=$data/debian-oci-archive.tar
debian_oci_archive "$data" "$IMAGE"

# ------------------------------------------------------------------ clean-up
W=$(mktemp -d "$workbase/ldcb.XXXXXX")
chmod 755 "$W"
pids=() tun_mode= made_run=()
for d in /run/docker /run/docker/plugins /run/containerd; do [ -e "$d" ] || made_run+=("$d"); done
stopall() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}"; done
  pids=()
}
cleanup() {
  set +e
  stopall
  # Whatever outlived its parent (a shim, a slirp4netns) names this run's directory.
  pgrep -f "$W/" | while read -r p; do [ "$p" = $$ ] || kill -KILL "$p" 2>/dev/null; done
  grep " $W/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf --one-file-system "$W"
  [ -z "$tun_mode" ] || chmod "$tun_mode" /dev/net/tun
  for ((i = ${#made_run[@]} - 1; i >= 0; i--)); do rmdir "${made_run[i]}" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$repo/layerd" --version >/dev/null # builds it once, outside the measurement
cp "$repo/daemon/target/layerd.jar" "$W/layerd.jar"
chmod 644 "$W/layerd.jar"

load1() { cut -d' ' -f1 /proc/loadavg; }
tick=$(getconf CLK_TCK)
# cpu PID...: their CPU clock ticks, with their waited-for children (igzip, unpigz).
cpu() { local p; for p; do cat "/proc/$p/stat"; done | awk '{ t += $14 + $15 + $16 + $17 } END { print t }'; }
# await WHAT PID COMMAND...: until COMMAND succeeds (2 minutes), failing when PID exits first.
await() {
  local what=$1 pid=$2; shift 2
  for _ in $(seq 1200); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what exited while starting"
    sleep 0.1
  done
  fail "$what did not start within 2 minutes"
}
declare -A result

# ------------------------------------------------------------------ load (rootful)
C=$W/c
SIDES=(layerd overlayfs)
ctr_ns() { command ctr --address "$C/containerd.sock" --namespace "bench-$1" "${@:2}"; }
rd() { "$DOCKER" --config "$W/cli" -H "unix://$W/$1/docker.sock" "${@:2}"; }

# start_rootful MODE: layerd, containerd, and the two dockerds; MODE "external" lets containerd use
# igzip/unpigz and layerd ISA-L, "in-process" neither.
start_rootful() {
  local mode=$1 jopts= env=() side
  [ "$mode" = in-process ] && jopts=-Dlayerd.isal=false env=(CONTAINERD_DISABLE_IGZIP=1 CONTAINERD_DISABLE_PIGZ=1)
  JAVA_TOOL_OPTIONS=$jopts "$repo/layerd" --data-root "$W/layerd" --socket "$W/gd.sock" \
    --driver overlay2 --containerd-socket "$W/snap.sock" --containerd-root "$C/root" \
    --containerd-address "$C/containerd.sock" > "$W/layerd-$mode.log" 2>&1 &
  pids+=($!); layerd_pid=$!
  await "layerd (see $W/layerd-$mode.log)" "$layerd_pid" test -S "$W/snap.sock"
  env "${env[@]}" containerd --config "$C/config.toml" > "$W/containerd-$mode.log" 2>&1 &
  pids+=($!); ctd_pid=$!
  await "containerd (see $W/containerd-$mode.log)" "$ctd_pid" command ctr --address "$C/containerd.sock" version
  for side in "${SIDES[@]}"; do
    mkdir -p "$W/$side"
    echo '{}' > "$W/$side/daemon.json"
    env "${env[@]}" dockerd --config-file "$W/$side/daemon.json" --data-root "$W/$side/dr" \
      --exec-root "$W/$side/er" -H "unix://$W/$side/docker.sock" --pidfile "$W/$side/docker.pid" \
      --containerd "$C/containerd.sock" --containerd-namespace "bench-$side" \
      --containerd-plugins-namespace "bench-$side-plugins" --feature containerd-snapshotter=true \
      --storage-driver "$side" --iptables=false --ip6tables=false --bridge=none \
      > "$W/$side/dockerd-$mode.log" 2>&1 &
    pids+=($!); dockerd_pid[$side]=$!
    await "dockerd on $side (see $W/$side/dockerd-$mode.log)" "$!" rd "$side" version
  done
}

# collect SIDE: the side's images removed and its content and snapshots collected.
collect() {
  local side=$1 i
  ctr_ns "$side" images ls -q | while read -r i; do ctr_ns "$side" images rm --sync "$i" >/dev/null; done
  for _ in $(seq 300); do
    [ -z "$(ctr_ns "$side" content ls -q)" ] && \
      [ "$(ctr_ns "$side" snapshots --snapshotter "$side" ls | wc -l)" -le 1 ] && return 0
    sleep 0.1
  done
  fail "the $side side's content or snapshots were not collected after removing its images"
}

# load SIDE: one timed docker load, both sides cleared first; prints seconds and the CPU seconds of
# containerd, layerd and the side's dockerd.
load() {
  local side=$1 t0 t1 c0 c1
  collect layerd; collect overlayfs
  sync
  c0=$(cpu "$ctd_pid" "$layerd_pid" "${dockerd_pid[$side]}"); t0=$(now)
  rd "$side" load -q -i "$archive" >/dev/null
  t1=$(now); c1=$(cpu "$ctd_pid" "$layerd_pid" "${dockerd_pid[$side]}")
  awk -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v k="$tick" \
    'BEGIN { printf "%.3f %.2f\n", b - a, (d - c) / k }'
}

if want load; then
  mkdir -p "$C" "$W/cli"
  "$repo/layerd" config containerd --data-root "$W/layerd" --containerd-socket "$W/snap.sock" \
    --containerd-root "$C/root" --containerd-state "$C/state" --containerd-address "$C/containerd.sock" \
    --disable-plugin io.containerd.grpc.v1.cri > "$C/config.toml"
  declare -A dockerd_pid
  for mode in external in-process; do
    start_rootful "$mode"
    load layerd >/dev/null; load overlayfs >/dev/null # JVM warmed, page cache filled
    ours=() theirs=() ourcpu=() theircpu=()
    for i in $(seq "$runs"); do
      r=$(load layerd); read -r t c <<< "$r"; ours+=("$t"); ourcpu+=("$c")
      r=$(load overlayfs); read -r t c <<< "$r"; theirs+=("$t"); theircpu+=("$c")
      echo "  load, $mode, run $i: layerd ${ours[-1]} s (${ourcpu[-1]} s CPU)," \
        "overlayfs+walking ${theirs[-1]} s (${theircpu[-1]} s CPU); load average $(load1)" >&2
    done
    grep -q "apply sha256:.*pipeline into" "$W/layerd-$mode.log" \
      || fail "layerd's differ applied nothing; see $W/layerd-$mode.log"
    result[load-$mode.ours]=$(median "${ours[@]}") result[load-$mode.theirs]=$(median "${theirs[@]}")
    result[load-$mode.ourcpu]=$(median "${ourcpu[@]}") result[load-$mode.theircpu]=$(median "${theircpu[@]}")
    stopall
  done
fi

# ------------------------------------------------------------------ commit and build (rootless)
# The user's docker CLI on SIDE's rootless dockerd.
rl() {
  local side=$1; shift
  "${AS_USER[@]}" DOCKER_HOST="unix://$W/rl-$side/run/docker.sock" "$DOCKER" --config "$W/rl-$side/cli" "$@"
}

start_rootless() {
  local side=$1 d=$W/rl-$1 args=(rootless-containerd --docker --driver overlay2)
  [ "$side" = layerd ] || args+=(-- --storage-driver "$side")
  mkdir -p "$d/run" "$d/data" "$d/cli/cli-plugins"
  ln -s "$clients/usr/libexec/docker/cli-plugins/docker-buildx" "$d/cli/cli-plugins/docker-buildx"
  chown -R "$uid:$gid" "$d"
  chmod 700 "$d/run"
  "${AS_USER[@]}" XDG_RUNTIME_DIR="$d/run" XDG_DATA_HOME="$d/data" "$JAVA" -XX:+UseSerialGC \
    -Xshare:auto -Dfile.encoding=UTF-8 -Dsun.jnu.encoding=UTF-8 -jar "$W/layerd.jar" "${args[@]}" \
    > "$d/log" 2>&1 &
  pids+=($!)
  await "rootless Docker on $side (see $d/log)" "$!" rl "$side" version
}

# commit SIDE SCRIPT: a container of the image runs SCRIPT, then the timed commit; prints seconds.
commit() {
  local side=$1 script=$2 t0 t1
  rl "$side" rm -f bench-c >/dev/null 2>&1 || true
  rl "$side" run --name bench-c --network none "$IMAGE" sh -c "$script" >/dev/null
  sync
  t0=$(now)
  rl "$side" commit bench-c bench-commit:latest >/dev/null
  t1=$(now)
  rl "$side" rm -f bench-c >/dev/null
  rl "$side" rmi bench-commit:latest >/dev/null
  elapsed "$t0" "$t1"; echo
}

# build SIDE: one timed build without cache; the image and the build cache removed after it.
build() {
  local side=$1 t0 t1
  sync
  t0=$(now)
  rl "$side" build -q --no-cache --network none -t bench-build:latest "$W/build" >/dev/null
  t1=$(now)
  rl "$side" rmi bench-build:latest >/dev/null
  rl "$side" builder prune -af >/dev/null
  elapsed "$t0" "$t1"; echo
}

# measure NAME COMMAND...: RUNS alternating runs of COMMAND SIDE, medians into result[NAME.*].
measure() {
  local name=$1 ours=() theirs=() i; shift
  for i in $(seq "$runs"); do
    ours+=("$("$@" layerd)")
    theirs+=("$("$@" overlayfs)")
    echo "  $name, run $i: layerd ${ours[-1]} s, overlayfs+walking ${theirs[-1]} s; load average $(load1)" >&2
  done
  result[$name.ours]=$(median "${ours[@]}") result[$name.theirs]=$(median "${theirs[@]}")
}
big='cp -a /usr /copy'
ten='for f in $(find /usr/bin -type f | sort | head -n 10); do echo changed >> "$f"; done'
commit_big() { commit "$1" "$big"; }
commit_ten() { commit "$1" "$ten"; }
commit_none() { commit "$1" true; }

if want commit || want build; then
  getent passwd "$user" >/dev/null || fail "no user $user (useradd -m $user; it needs subordinate ids)"
  grep -q "^$user:" /etc/subuid || fail "$user has no subordinate ids in /etc/subuid"
  uid=$(id -u "$user") gid=$(id -g "$user") home=$(getent passwd "$user" | cut -d: -f6)
  AS_USER=(setpriv --reuid "$uid" --regid "$gid" --init-groups env -i HOME="$home" USER="$user"
    LOGNAME="$user" PATH="$PATH" LC_ALL=C.UTF-8)
  tun_mode=$(stat -c %a /dev/net/tun)
  chmod 666 /dev/net/tun
  for side in "${SIDES[@]}"; do
    start_rootless "$side"
    rl "$side" load -q < "$archive" >/dev/null
  done
  if want commit; then
    commit_ten layerd >/dev/null; commit_ten overlayfs >/dev/null # JVM warmed
    measure commit-big commit_big
    measure commit-ten commit_ten
    measure commit-none commit_none
    grep -q "diff sha256:.*native diff" "$W/rl-layerd/log" \
      || fail "layerd's differ diffed nothing; see $W/rl-layerd/log"
    grep "diff sha256:.*native diff" "$W/rl-layerd/log" | tail -n 3 > "$W/diffs.log" # the last run of each
  fi
  if want build; then
    mkdir -p "$W/build"
    cat > "$W/build/Dockerfile" <<EOF
FROM $IMAGE
RUN cp -a /usr/lib /opt/lib
RUN dpkg-query -W -f '\${Package} \${Version}\n' > /packages.txt && dpkg -L coreutils > /coreutils.txt
RUN mkdir /data && for i in \$(seq 2000); do echo "\$i" > /data/f\$i; done
RUN rm -rf /usr/share/doc /usr/share/man /data/f1*
RUN echo done > /etc/bench && chmod 600 /etc/bench
EOF
    chmod -R a+rX "$W/build"
    before=$(wc -l < "$W/rl-layerd/log")
    measure build build
    # The last build's layers, when BuildKit asked the differ (it reads overlay upper directories
    # itself when it can).
    { tail -n +"$((before + 1))" "$W/rl-layerd/log" | grep "diff sha256:" || true; } | tail -n 5 \
      > "$W/build-diffs.log"
  fi
  stopall
fi

# ------------------------------------------------------------------ the table
row() {
  local what=$1 key=$2 target=$3
  echo "| $what | ${result[$key.ours]} s | ${result[$key.theirs]} s |" \
    "**$(ratio "${result[$key.ours]}" "${result[$key.theirs]}")x** | $target |"
}
gz="none on PATH"
if command -v igzip >/dev/null; then gz=igzip; elif command -v unpigz >/dev/null; then gz=unpigz; fi
isal=no; ldconfig -p 2>/dev/null | grep -q 'libisal\.so\.2' && isal=yes
echo
echo "Docker $(dockerd --version | awk '{print $3}' | tr -d ,) on containerd $(containerd --version | awk '{print $3}')," \
  "layerd's overlay2 (snapshotter + differ) against containerd's overlayfs + walking differ;" \
  "Debian reference image ($(stat -c %s "$data/debian.tar.gz") B gzip layer, $(stat -c %s "$data/debian.tar") B tar);" \
  "$runs runs each, alternating, medians; $(nproc) cores, kernel $(uname -r), $(df -T "$W" | awk 'NR == 2 {print $2}') under $workbase; $(date -u '+%F %H:%M') UTC"
echo
echo "| measurement | layerd | overlayfs + walking | layerd / overlayfs | target |"
echo "|---|---|---|---|---|"
if want load; then
  row "rootful docker load, external gzip (containerd $gz, layerd ISA-L: $isal)" load-external "<= 0.6x"
  row "rootful docker load, in-process gzip (Go's, java.util.zip)" load-in-process "<= 0.6x"
fi
if want commit; then
  row "rootless docker commit, cp -a /usr /copy" commit-big "<= 0.5x"
  row "rootless docker commit, 10 files changed" commit-ten "<= 1.0x"
  row "rootless docker commit, nothing changed" commit-none ""
fi
want build && row "rootless docker build --no-cache, 5 RUN steps" build "report"
echo
if want load; then
  echo "load CPU s (containerd + layerd + that dockerd): external ${result[load-external.ourcpu]} vs" \
    "${result[load-external.theircpu]}, in-process ${result[load-in-process.ourcpu]} vs ${result[load-in-process.theircpu]}"
fi
if want commit; then
  echo "layerd's differ, its last commits (diff of the upper directory, gzip, upload):"
  sed 's/^.*\(diff sha256:[0-9a-f]\{12\}\)[0-9a-f]*: /  \1: /; s/ of .*$//' "$W/diffs.log"
fi
if want build; then
  if [ -s "$W/build-diffs.log" ]; then
    echo "layerd's differ, the last build's layers:"
    sed 's/^.*\(diff sha256:[0-9a-f]\{12\}\)[0-9a-f]*: /  \1: /; s/ of .*$//' "$W/build-diffs.log"
  else
    echo "layerd's differ computed none of the build's layers (BuildKit read the upper directories)."
  fi
  echo "Dockerfile:"; sed 's/^/  /' "$W/build/Dockerfile"
fi
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows both sides)."
echo
echo "Reproduce: benchmarks/docker-containerd-bench.sh -n $runs$only"
