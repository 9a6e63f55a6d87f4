#!/bin/sh
# layerd-rootless-docker.sh: a rootless dockerd whose storage driver is layerd.
#
# It runs the way dockerd-rootless.sh runs dockerd. Run as the (unprivileged) user, it re-runs
# itself under rootlesskit, which makes a user namespace of the user's subordinate ids
# (/etc/subuid, /etc/subgid, mapped by newuidmap/newgidmap), a mount namespace and a private /run.
# Inside, it starts layerd on /run/docker/plugins/layerd.sock (where dockerd looks for the plugin;
# layerd must run in the same namespaces as dockerd, to chown to the subordinate ids, mount, and
# hand dockerd paths it can see), waits for the socket, then starts
#     dockerd --rootless --experimental --storage-driver layerd [DOCKERD-ARGS...]
# with dockerd's rootless defaults (socket $XDG_RUNTIME_DIR/docker.sock, data in
# $XDG_DATA_HOME/docker). When dockerd ends (SIGTERM/SIGINT to this script are forwarded to it,
# and rootlesskit forwards them here), layerd gets SIGTERM after dockerd's Cleanup: requests in
# flight finish, then its mounts are released.
#
# Usage: layerd-rootless-docker.sh [DOCKERD-ARGS...]
#   then: DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock docker info
#
# Environment:
#   XDG_RUNTIME_DIR           required: a directory of mode 0700 owned by the user
#   XDG_DATA_HOME             default ~/.local/share (layerd's layers in $XDG_DATA_HOME/layerd)
#   LAYERD                    the layerd command (default: the repository's ./layerd launcher
#                             beside this script's module, else `layerd` on PATH)
#   LAYERD_ARGS               more layerd arguments, e.g. "--driver overlay2"
#   LAYERD_DATA_ROOT          layerd's data-root (default $XDG_DATA_HOME/layerd)
#   LAYERD_ROOTLESSKIT_NET    host (default: no network set-up; dockerd runs with --bridge=none)
#                             or slirp4netns (needs /dev/net/tun open to the user)
#   LAYERD_ROOTLESSKIT_FLAGS  more rootlesskit flags
#   LAYERD_SOCKET_TIMEOUT     seconds to wait for layerd's socket (default 60)
set -eu

self=$(readlink -f "$0")
socket=/run/docker/plugins/layerd.sock
net=${LAYERD_ROOTLESSKIT_NET:-host}

die() {
  echo "layerd-rootless-docker: $*" >&2
  exit 1
}

if [ -z "${_LAYERD_ROOTLESS_CHILD:-}" ]; then
  # ---- outside: check, then re-run under rootlesskit
  [ "$(id -u)" != 0 ] || die "run this as the user whose rootless dockerd it is, not as root"
  [ -n "${XDG_RUNTIME_DIR:-}" ] || die "XDG_RUNTIME_DIR is not set (a directory of mode 0700 that you own)"
  [ -d "$XDG_RUNTIME_DIR" ] && [ -w "$XDG_RUNTIME_DIR" ] || die "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR is not a writable directory"
  command -v rootlesskit >/dev/null || die "rootlesskit is not on PATH (Debian: apt-get install rootlesskit)"
  command -v dockerd >/dev/null || die "dockerd is not on PATH (Debian: apt-get install docker.io)"
  command -v newuidmap >/dev/null || die "newuidmap is not on PATH (Debian: apt-get install uidmap)"
  grep -q "^$(id -un):\|^$(id -u):" /etc/subuid 2>/dev/null \
    || die "$(id -un) has no subordinate uids in /etc/subuid (usermod --add-subuids 100000-165535 $(id -un))"
  case "$net" in
    host) net_flags="--net=host" ;;
    slirp4netns) net_flags="--net=slirp4netns --mtu=65520 --disable-host-loopback --port-driver=builtin" ;;
    *) die "LAYERD_ROOTLESSKIT_NET must be host or slirp4netns, not $net" ;;
  esac
  export _LAYERD_ROOTLESS_CHILD=1
  # shellcheck disable=SC2086 # flags are words
  exec rootlesskit $net_flags --copy-up=/etc --copy-up=/run --propagation=rslave \
    --state-dir="$XDG_RUNTIME_DIR/layerd-rootlesskit" ${LAYERD_ROOTLESSKIT_FLAGS:-} \
    "$self" "$@"
fi

# ---- inside rootlesskit's namespaces (root of the user namespace, private /run)

# /run is rootlesskit's tmpfs here, its entries links to the host's: a rootful run's
# /run/docker and /run/containerd (root's, hence nobody's here) would break dockerd. Unlinking
# them touches only this namespace's /run.
rm -rf /run/docker /run/containerd
mkdir -p /run/docker/plugins

if [ -z "${LAYERD:-}" ]; then
  repo_launcher=$(dirname "$self")/../../layerd
  if [ -x "$repo_launcher" ]; then
    LAYERD=$(readlink -f "$repo_launcher")
  else
    LAYERD=layerd
  fi
fi
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
layerd_root=${LAYERD_DATA_ROOT:-$data_home/layerd}

# shellcheck disable=SC2086 # LAYERD and LAYERD_ARGS are commands and words
$LAYERD --socket "$socket" --data-root "$layerd_root" --rootless=false ${LAYERD_ARGS:-} &
layerd_pid=$!

timeout=${LAYERD_SOCKET_TIMEOUT:-60}
waited=0
until [ -S "$socket" ]; do
  if ! kill -0 "$layerd_pid" 2>/dev/null; then
    set +e
    wait "$layerd_pid"
    die "layerd exited (status $?) before listening on $socket"
  fi
  [ "$waited" -lt $((timeout * 10)) ] || { kill -TERM "$layerd_pid"; die "layerd did not listen on $socket within ${timeout}s"; }
  sleep 0.1
  waited=$((waited + 1))
done

if [ "$net" = host ]; then
  # The host's network namespace belongs to the initial user namespace: no bridge from here, and
  # no writing /proc/sys/net/ipv4/ip_forward (where it is 0, dockerd's start would fail on it).
  set -- --iptables=false --ip6tables=false --bridge=none --ip-forward=false "$@"
fi
dockerd --rootless --experimental --storage-driver layerd "$@" &
dockerd_pid=$!

trap 'kill -TERM "$dockerd_pid" 2>/dev/null || true' INT TERM HUP
set +e
wait "$dockerd_pid"
status=$?
while kill -0 "$dockerd_pid" 2>/dev/null; do
  wait "$dockerd_pid"
  status=$?
done
trap - INT TERM HUP

kill -TERM "$layerd_pid" 2>/dev/null
wait "$layerd_pid"
exit "$status"
