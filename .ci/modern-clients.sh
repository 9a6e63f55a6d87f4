#!/usr/bin/env bash
# Fetches today's Docker and containerd from Debian unstable as .deb files and unpacks them into a
# cache directory, without installing anything from unstable: apt runs on a private sources list,
# list directory, package cache and an empty dpkg status. Prints the unpacked tree's path.
#
#   .ci/modern-clients.sh [CACHE_DIR]     # default: $LAYERD_CLIENTS_CACHE or /var/cache/layerd-clients
#
# The tests find the binaries under CACHE_DIR/x (usr/bin, usr/sbin, usr/libexec/docker/cli-plugins)
# through LAYERD_MODERN_CLIENTS=CACHE_DIR/x. The versions are pinned here and nowhere else; a failed
# download fails this script (and so CI).
set -euo pipefail

# Pinned versions (Debian unstable).
PACKAGES=(
  docker.io=28.5.2+dfsg4-5
  docker-cli=28.5.2+dfsg4-5
  containerd=2.1.9+ds1-5
  docker-buildx=0.29.1+ds1-4
  rootlesskit=2.0.2-2+b11
)

D=${1:-${LAYERD_CLIENTS_CACHE:-/var/cache/layerd-clients}}
stamp="$D/x/.layerd-clients"
want=$(printf '%s\n' "${PACKAGES[@]}")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$D/x"
  exit 0
fi

mkdir -p "$D/apt/lists/partial" "$D/apt/cache/archives/partial" "$D/debs"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' \
  >"$D/apt/sources.list"
: >"$D/apt/status"
A=(-o "Dir::Etc::sourcelist=$D/apt/sources.list" -o Dir::Etc::sourceparts=- \
  -o "Dir::State::Lists=$D/apt/lists" -o "Dir::Cache=$D/apt/cache" \
  -o "Dir::State::status=$D/apt/status" -o Debug::NoLocking=1)

apt-get "${A[@]}" update -qq >&2
rm -f "$D"/debs/*.deb
(cd "$D/debs" && apt-get "${A[@]}" download "${PACKAGES[@]}" >&2)
for p in "${PACKAGES[@]}"; do
  name=${p%%=*}
  ls "$D"/debs/"${name}"_*.deb >/dev/null 2>&1 || { echo "modern-clients: $p was not downloaded" >&2; exit 1; }
done

rm -rf "$D/x.new" && mkdir -p "$D/x.new"
for f in "$D"/debs/*.deb; do dpkg-deb -x "$f" "$D/x.new"; done
for b in usr/bin/containerd usr/bin/ctr usr/bin/containerd-shim-runc-v2 usr/bin/docker usr/sbin/dockerd \
  usr/bin/rootlesskit usr/libexec/docker/cli-plugins/docker-buildx; do
  [ -x "$D/x.new/$b" ] || { echo "modern-clients: $b missing from the unpacked packages" >&2; exit 1; }
done
printf '%s\n' "${PACKAGES[@]}" >"$D/x.new/.layerd-clients"
rm -rf "$D/x" && mv "$D/x.new" "$D/x"
echo "$D/x"
