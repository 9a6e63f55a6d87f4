#!/usr/bin/env bash
# Assembles the install tree (target/stage) and target/layerd-VERSION-linux-ARCH.tar.gz; run by
# Maven at `package` (dist/pom.xml), after the man pages and completions were generated.
#   build.sh VERSION ARCH JDK TARGET
# JDK is the JDK whose jlink makes the runtime image: Java 17 or later; from Java 25 on,
# layerctl's start-up archive is an ahead-of-time cache recorded here (it moves with the tree),
# before that a class-data-sharing archive, which lib/train records where the tree is installed.
set -euo pipefail
version=$1 arch=$2 jdk=$3 target=$4
dist=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$dist")
stage=$target/stage
name=layerd-$version-linux-$arch
case "$arch" in amd64) multiarch=x86_64-linux-gnu jna=linux-x86-64 zstd=amd64 ;;
  arm64) multiarch=aarch64-linux-gnu jna=linux-aarch64 zstd=aarch64 ;;
  *) echo "build.sh: unsupported architecture $arch" >&2; exit 1 ;; esac

feature=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$jdk/release")
if [ "${feature:-0}" -ge 25 ]; then
  kind=aot
  # -AOTInvokeDynamicLinking: with it, Temurin 25.0.3 fails a guarantee while it assembles the
  # cache ("Metadata ... should have been archived", archiveHeapWriter.cpp).
  # ArchiveRelocationMode=0: map the cache where it was made to be mapped (no relocation pass).
  # Native access is JNA's and zstd-jni's; without the option Java 24 and later warn at start.
  aot_flags="-XX:+UnlockDiagnosticVMOptions -XX:-AOTInvokeDynamicLinking -XX:ArchiveRelocationMode=0 --enable-native-access=ALL-UNNAMED"
  native_access=--enable-native-access=ALL-UNNAMED
else
  kind=jsa aot_flags= native_access=
fi

rm -rf "$stage" && mkdir -p "$stage"/{bin,lib/native,libexec,share/man/man1,share/doc/layerd}
# The runtime: the modules both jars need (jdeps --print-module-deps), with the JDK's default
# class-data archive generated for the image.
"$jdk/bin/jlink" --add-modules java.base,java.compiler,java.desktop,java.logging,java.management,java.naming,java.security.jgss,java.sql,jdk.unsupported \
  --strip-debug --no-man-pages --no-header-files --generate-cds-archive \
  --output "$stage/runtime" >/dev/null

cp "$repo/layerctl/target/layerctl.jar" "$repo/daemon/target/layerd.jar" "$stage/lib/"
# JNA's and zstd-jni's native libraries, unpacked once instead of into /tmp at every start.
x=$(mktemp -d "$target/native.XXXXXX")
(cd "$x" && "$jdk/bin/jar" xf "$stage/lib/layerctl.jar" "com/sun/jna/$jna/libjnidispatch.so" "linux/$zstd/")
mv "$x/com/sun/jna/$jna/libjnidispatch.so" "$x"/linux/"$zstd"/libzstd-jni-*.so "$stage/lib/native/"
rm -rf "$x"
zstd_lib=$(cd "$stage/lib/native" && ls libzstd-jni-*.so)
for f in bin/layerctl bin/layerd lib/train; do
  sed -e "s|@AOT_FLAGS@|$aot_flags|" -e "s|@NATIVE_ACCESS@|$native_access|" -e "s|@MULTIARCH@|$multiarch|g" -e "s|@ZSTD_LIB@|$zstd_lib|" \
    -e "s|@ARCHIVE_KIND@|$kind|" "$dist/src/main/dist/$f" >"$stage/$f"
  chmod 755 "$stage/$f"
done
install -m 755 "$repo/daemon/scripts/layerd-rootless-docker.sh" "$stage/libexec/"

for m in "$target"/docs/man1/*.1; do gzip -9n -c "$m" >"$stage/share/man/man1/$(basename "$m").gz"; done
# bash and zsh completions (GenerateDocs lays them out as installed)
cp -r "$target/docs/share/." "$stage/share/"
cp -r "$dist/src/main/dist/systemd" "$stage/lib/"
cp -r "$dist/src/main/dist/examples" "$stage/share/doc/layerd/"
# containerd's and Docker 28+'s configs as `layerd config` writes them, for root's default places.
"$stage/bin/layerd" config containerd --data-root /var/lib/layerd \
  --containerd-socket /run/layerd/snapshotter.sock >"$stage/share/doc/layerd/examples/containerd-config.toml"
"$stage/bin/layerd" config docker \
  >"$stage/share/doc/layerd/examples/docker-daemon.json"
sed "s/@VERSION@/$version/" "$dist/src/main/dist/README" >"$stage/share/doc/layerd/README"
sed "s/@VERSION@/$version/" "$dist/src/main/dist/README" >"$stage/README"

# The ahead-of-time cache moves with the tree: record it now. (A Java 17 archive would not.)
if [ "$kind" = aot ]; then
  "$stage/lib/train"
fi

tar -C "$target" --owner=0 --group=0 --transform "s,^stage,$name," -czf "$target/$name.tar.gz" stage
echo "dist: $target/$name.tar.gz ($(du -h "$target/$name.tar.gz" | cut -f1); runtime: Java $feature, start-up archive: $kind)"
