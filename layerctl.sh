#!/usr/bin/env bash
# layerctl: builds itself on first use (and after the sources change: dev/build-if-stale.sh),
# then runs.
# (Named layerctl.sh because the layerctl/ module directory holds the plain name.)
#
# Start-up is part of every command's time, so the first run after a build also prepares, under
# layerctl/target: the native libraries of JNA and zstd-jni unpacked once (instead of on every
# start), and a class-data-sharing archive (layerctl.jsa, -XX:ArchiveClassesAtExit) recorded from
# a training unpack of small gzip, zstd and plain layers. The JVM runs C1 only: the hot loops
# (inflate, zstd, SHA-256, writes) are native, so C2's compile time would be spent for nothing.
# LAYERCTL_JAVA_OPTS adds JVM options (e.g. -XX:TieredStopAtLevel=4 where OpenSSL's libcrypto
# is missing and SHA-256 falls back to the JDK's, which needs C2 to be fast).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
target="$here/layerctl/target"
jar="$target/layerctl.jar"
# shellcheck source=dev/build-if-stale.sh
. "$here/dev/build-if-stale.sh"
layerd_build_if_stale "$here" layerctl layerctl "$jar" || exit 1
# Names are bytes: run the JVM with a UTF-8 locale so that none is mangled.
case "${LC_ALL:-${LC_CTYPE:-${LANG:-}}}" in *UTF-8*|*utf8*) ;; *) export LC_ALL=C.UTF-8 ;; esac

java=${JAVA:-java}
native="$target/native"
jsa="$target/layerctl.jsa"
opts=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xshare:auto
  -Xlog:cds=off -Xlog:cds+dynamic=off
  # JNA: the system library directories given, so that it does not run 'ldconfig -p' at start.
  "-Djna.platform.library.path=/usr/lib/${HOSTTYPE:-x86_64}-linux-gnu:/lib/${HOSTTYPE:-x86_64}-linux-gnu:/usr/lib64:/lib64:/usr/lib:/lib"
  -Dfile.encoding=UTF-8 -Dsun.jnu.encoding=UTF-8)

# Native libraries unpacked once per build.
if [ ! -f "$native/.done" ] || [ "$jar" -nt "$native/.done" ]; then
  rm -rf "$native.tmp" && mkdir -p "$native.tmp"
  if (cd "$native.tmp" && "${JAR:-jar}" xf "$jar" com/sun/jna/linux-x86-64 com/sun/jna/linux-aarch64 \
        linux/amd64 linux/aarch64) 2>/dev/null; then
    rm -rf "$native" && mv "$native.tmp" "$native" && touch "$native/.done"
  else
    rm -rf "$native.tmp"
  fi
fi
case "${HOSTTYPE:-}" in x86_64) jna_arch=linux-x86-64 zstd_arch=amd64 ;; aarch64) jna_arch=linux-aarch64 zstd_arch=aarch64 ;; *) jna_arch= zstd_arch= ;; esac
if [ -n "$jna_arch" ] && [ -f "$native/com/sun/jna/$jna_arch/libjnidispatch.so" ]; then
  opts+=("-Djna.boot.library.path=$native/com/sun/jna/$jna_arch")
fi
if [ -n "$zstd_arch" ]; then
  for z in "$native/linux/$zstd_arch"/libzstd-jni-*.so; do
    [ -f "$z" ] && opts+=("-DZstdNativePath=$z")
  done
fi

# The class-data-sharing archive, recorded once per build (and per JDK).
jdk_id="$(readlink -f "$(command -v "$java")" 2>/dev/null || echo "$java")"
if [ ! -f "$jsa" ] || [ "$jar" -nt "$jsa" ] || [ "$(cat "$jsa.jdk" 2>/dev/null)" != "$jdk_id" ]; then
  train=$(mktemp -d "$target/cds-train.XXXXXX")
  (
    tar -cf "$train/layer.tar" -C "$here" --exclude=target README.md ARCHITECTURE.md layerctl/src/main 2>/dev/null
    gzip -c "$train/layer.tar" > "$train/layer.tar.gz"
    layers=("$train/layer.tar.gz")
    if command -v zstd >/dev/null; then
      zstd -q -c "$train/layer.tar" > "$train/layer.tar.zst" && layers+=("$train/layer.tar.zst")
    fi
    layers+=("$train/layer.tar")
    "$java" "${opts[@]}" "-XX:ArchiveClassesAtExit=$jsa.$$" -jar "$jar" unpack --json \
      "${layers[@]}" "$train/out" >/dev/null 2>&1 \
      && mv -f "$jsa.$$" "$jsa" && echo "$jdk_id" > "$jsa.jdk"
  ) || true
  rm -rf "$train" "$jsa.$$"
fi
[ -f "$jsa" ] && opts+=("-XX:SharedArchiveFile=$jsa")

# shellcheck disable=SC2086 # LAYERCTL_JAVA_OPTS is split on purpose
exec "$java" "${opts[@]}" ${LAYERCTL_JAVA_OPTS:-} -jar "$jar" "$@"
