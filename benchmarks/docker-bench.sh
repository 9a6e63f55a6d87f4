#!/usr/bin/env bash
# docker-bench.sh: whole-process comparisons of layerd against dockerd's built-in drivers, with
# Debian's dockerd 20.10 (not a timed test: it prints times and ratios, and the command that
# reproduces them).
#
#   1. load (rootful): `docker load` of the same image through layerd's overlay2 and vfs and
#      through dockerd's built-in overlay2 and vfs.        Target: layerd overlay2 <= 1.1x built-in.
#   2. commit (rootless, as an unprivileged user under rootlesskit): `docker commit` of a container
#      that changed 10 files of a large image, through layerd's overlay2 (native diff: it reads the
#      upper directory) and dockerd's built-in rootless overlay2 (naive diff: it compares whole
#      trees).                                             Target: layerd >= 5x faster.
#
# Usage (as root, from anywhere):
#   benchmarks/docker-bench.sh [load|commit|all]
# Environment:
#   BENCH_MB=256        size of the large layer (random content, in 1 MiB directories of 20 KiB files)
#   BENCH_RUNS=3        runs per configuration (the median is reported)
#   BENCH_USER=layerd-test  the unprivileged user of the rootless part (created with useradd when
#                       missing; needs subordinate ids, which Debian's useradd gives)
#   BENCH_TMPDIR=/var/tmp  where a fresh directory for images, data-roots and logs is made (and
#                       removed at the end)
# Needs: docker.io (dockerd 20.10), rootlesskit, uidmap, a JDK 17 and Maven (to build layerd).
set -euo pipefail

what=${1:-all}
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
repo=$(dirname "$here")
MB=${BENCH_MB:-256}
RUNS=${BENCH_RUNS:-3}
USER_NAME=${BENCH_USER:-layerd-test}
WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/layerd-docker-bench.XXXXXX")
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
PLUGIN=layerd-bench
reproduce="BENCH_MB=$MB BENCH_RUNS=$RUNS BENCH_USER=$USER_NAME $repo/benchmarks/docker-bench.sh $what"

[ "$(id -u)" = 0 ] || { echo "docker-bench: run as root (it starts rootful dockerds and switches to $USER_NAME)" >&2; exit 1; }
for c in dockerd rootlesskit setpriv newuidmap tar sha256sum split awk; do
  command -v "$c" >/dev/null || { echo "docker-bench: $c is not on PATH" >&2; exit 1; }
done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null || true
  done
  grep " $WORK/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- layerd and the image
jar="$repo/daemon/target/layerd.jar"
if [ ! -f "$jar" ]; then
  echo "building layerd..." >&2
  (cd "$repo" && mvn -B -q -pl daemon -am package -DskipTests -Dspotless.check.skip=true >&2)
fi
cp "$jar" "$WORK/layerd.jar"
chmod 644 "$WORK/layerd.jar"
JAVA=$(readlink -f "$(command -v java)")

image="$WORK/image.tar"
make_image() {
  local d="$WORK/image" bb="sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc"
  mkdir -p "$d/bb" "$d/big" "$d/tree"
  cp "$repo/testdata/images/busybox-1.38.0-glibc-oci/blobs/sha256/b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3" "$d/bb/layer.tar"
  for i in $(seq 0 $((MB - 1))); do
    mkdir -p "$d/tree/data/d$i"
    head -c 1M /dev/urandom | split -a 2 -b 20k - "$d/tree/data/d$i/f"
  done
  tar -C "$d/tree" --numeric-owner --owner=0 --group=0 -cf "$d/big/layer.tar" data
  rm -rf "$d/tree"
  local big="sha256:$(sha256sum "$d/big/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Env":["PATH=/bin:/usr/bin"]},"rootfs":{"type":"layers","diff_ids":["%s","%s"]},"history":[{"created_by":"busybox"},{"created_by":"docker-bench"}]}' "$bb" "$big" > "$d/config.json"
  printf '[{"Config":"config.json","RepoTags":["layerd-bench:big"],"Layers":["bb/layer.tar","big/layer.tar"]}]' > "$d/manifest.json"
  tar -C "$d" -cf "$image" manifest.json config.json bb big
  rm -rf "$d"
  chmod 644 "$image"
}
echo "making a ${MB} MiB image ($((MB * 52)) files)..." >&2
make_image

# ---------------------------------------------------------------- rootful dockerd
# start_rootful NAME STORAGE-DRIVER [LAYERD-DRIVER]: dockerd on private dirs; with a layerd driver,
# layerd first on /run/docker/plugins/$PLUGIN.sock.
start_rootful() {
  local name=$1 sd=$2 ld=${3:-} d="$WORK/$1"
  mkdir -p "$d"
  if [ -n "$ld" ]; then
    "$JAVA" -jar "$WORK/layerd.jar" --data-root "$d/layerd" --socket "/run/docker/plugins/$PLUGIN.sock" \
      --driver "$ld" > "$d/layerd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do [ -S "/run/docker/plugins/$PLUGIN.sock" ] && break; sleep 0.1; done
  fi
  dockerd --data-root "$d/dr" --exec-root "$d/er" -H "unix://$d/docker.sock" --iptables=false \
    --ip6tables=false --bridge=none --pidfile "$d/docker.pid" --experimental --storage-driver "$sd" \
    > "$d/dockerd.log" 2>&1 &
  pids+=($!)
  export DOCKER_HOST="unix://$d/docker.sock"
  for _ in $(seq 600); do "$DOCKER" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "docker-bench: dockerd ($name) did not start; see $d/dockerd.log" >&2
  tail -20 "$d/dockerd.log" >&2
  exit 1
}

stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done; done
  pids=()
}

# bench_load NAME STORAGE-DRIVER [LAYERD-DRIVER]: sets RESULT to the median load time.
bench_load() {
  local name=$1 sd=$2 ld=${3:-} times=()
  start_rootful "$name" "$sd" "$ld"
  for r in $(seq "$RUNS"); do
    sync
    local t0; t0=$(now)
    "$DOCKER" load -q -i "$image" >/dev/null
    local t1; t1=$(now)
    times+=("$(elapsed "$t0" "$t1")")
    "$DOCKER" rmi -f layerd-bench:big >/dev/null
  done
  stop_all
  RESULT=$(median "${times[@]}")
}

# ---------------------------------------------------------------- rootless dockerd
ensure_user() {
  if ! getent passwd "$USER_NAME" >/dev/null; then
    useradd -m -s /bin/bash "$USER_NAME"
  fi
  grep -q "^$USER_NAME:" /etc/subuid || { echo "docker-bench: $USER_NAME has no subordinate uids" >&2; exit 1; }
  uid=$(id -u "$USER_NAME"); gid=$(id -g "$USER_NAME"); home=$(getent passwd "$USER_NAME" | cut -d: -f6)
  AS_USER=(setpriv --reuid "$uid" --regid "$gid" --init-groups env -i HOME="$home" USER="$USER_NAME"
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8)
}

as_user() { "${AS_USER[@]}" "$@"; }

rl_docker() { as_user DOCKER_HOST="unix://$RL_SOCKET" "$DOCKER" "$@"; }

# start_rootless NAME layerd|builtin
start_rootless() {
  local name=$1 kind=$2 d="$WORK/$1"
  mkdir -p "$d/run" "$d/data"
  chown "$uid:$gid" "$d" "$d/run" "$d/data"
  chmod 700 "$d/run"
  # Started as plain commands (not through a function) so that $! is the process itself, which
  # becomes rootlesskit: SIGTERM to it stops dockerd (and layerd) in order.
  if [ "$kind" = layerd ]; then
    "${AS_USER[@]}" XDG_RUNTIME_DIR="$d/run" XDG_DATA_HOME="$d/data" \
      LAYERD="$JAVA -jar $WORK/layerd.jar" LAYERD_ARGS="--driver overlay2" \
      "$repo/daemon/scripts/layerd-rootless-docker.sh" > "$d/log" 2>&1 &
  else
    "${AS_USER[@]}" XDG_RUNTIME_DIR="$d/run" XDG_DATA_HOME="$d/data" \
      rootlesskit --net=host --copy-up=/etc --copy-up=/run --propagation=rslave \
      --state-dir="$d/run/rk" sh -c 'rm -rf /run/docker /run/containerd; exec dockerd --rootless --experimental --storage-driver overlay2 --iptables=false --ip6tables=false --bridge=none' \
      > "$d/log" 2>&1 &
  fi
  pids+=($!)
  RL_SOCKET="$d/run/docker.sock"
  for _ in $(seq 600); do rl_docker version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "docker-bench: rootless dockerd ($name) did not start; see $d/log" >&2
  tail -20 "$d/log" >&2
  exit 1
}

# bench_commit NAME layerd|builtin: sets RESULT to the median commit time.
bench_commit() {
  local name=$1 kind=$2 times=()
  start_rootless "$name" "$kind"
  rl_docker load -q -i "$image" >/dev/null
  rl_docker info --format '{{range .DriverStatus}}{{index . 0}}: {{index . 1}}; {{end}}' >&2
  local script="for i in 0 1 2 3 4 5 6 7 8 9; do echo changed >> /data/d\$i/faa; done"
  for r in $(seq "$RUNS"); do
    rl_docker rm -f bench-c >/dev/null 2>&1 || true
    rl_docker run --name bench-c --network none layerd-bench:big sh -c "$script"
    local t0; t0=$(now)
    rl_docker commit bench-c "layerd-bench:c$r" >/dev/null
    local t1; t1=$(now)
    times+=("$(elapsed "$t0" "$t1")")
    rl_docker rm -f bench-c >/dev/null
    rl_docker rmi "layerd-bench:c$r" >/dev/null
  done
  stop_all
  RESULT=$(median "${times[@]}")
}

# ---------------------------------------------------------------- run
if [ "$what" = load ] || [ "$what" = all ]; then
  echo "load, rootful (median of $RUNS)..." >&2
  bench_load layerd-overlay2 "$PLUGIN" overlay2; lo=$RESULT
  bench_load builtin-overlay2 overlay2; bo=$RESULT
  bench_load layerd-vfs "$PLUGIN" vfs; lv=$RESULT
  bench_load builtin-vfs vfs; bv=$RESULT
  echo
  echo "docker load of a ${MB} MiB image, rootful (median of $RUNS runs):"
  printf '  %-28s %8ss\n' "layerd overlay2" "$lo" "built-in overlay2" "$bo" "layerd vfs" "$lv" "built-in vfs" "$bv"
  echo "  layerd overlay2 / built-in overlay2 = $(ratio "$lo" "$bo")   (target <= 1.10)"
  echo "  layerd vfs / built-in vfs           = $(ratio "$lv" "$bv")"
fi
if [ "$what" = commit ] || [ "$what" = all ]; then
  ensure_user
  echo "commit, rootless as $USER_NAME (median of $RUNS)..." >&2
  bench_commit rl-layerd layerd; lc=$RESULT
  bench_commit rl-builtin builtin; bc=$RESULT
  echo
  echo "docker commit of 10 changed files on a ${MB} MiB image, rootless (median of $RUNS runs):"
  printf '  %-28s %8ss\n' "layerd overlay2 (native)" "$lc" "built-in overlay2 (naive)" "$bc"
  echo "  built-in / layerd = $(ratio "$bc" "$lc")x faster   (target >= 5)"
fi
echo
echo "reproduce: $reproduce"
