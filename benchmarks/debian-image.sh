# benchmarks/debian-image.sh: the Debian reference image the benchmarks share, sourced by
# compare.sh, containerd-bench.sh and docker-containerd-bench.sh (REPO must be set).
#
#   debian_layer DATA                 DATA/debian.tar{,.gz,.zst}: made by testdata's
#                                     make-debian-layer.sh when missing (about a minute)
#   debian_oci_layout DATA DEST REF [NAME]  an OCI image layout in DEST whose one layer is
#                                     DATA/debian.tar.gz, its manifest annotated with ref name REF
#                                     and, given NAME, io.containerd.image.name NAME
#   debian_oci_archive DATA NAME      DATA/debian-oci-archive.tar: that layout as one tar (an OCI
#                                     archive for ctr import and docker load) named NAME; made
#                                     when missing or older than the layer

debian_layer() {
  local data=$1 maker= m
  mkdir -p "$data"
  if [ -s "$data/debian.tar" ] && [ -s "$data/debian.tar.gz" ] && [ -s "$data/debian.tar.zst" ]; then
    return 0
  fi
  for m in "${LAYERD_MAKE_DEBIAN_LAYER:-}" "$REPO/../shared/testdata/make-debian-layer.sh" \
           /work/shared/testdata/make-debian-layer.sh; do
    [ -n "$m" ] && [ -f "$m" ] && { maker=$m; break; }
  done
  [ -n "$maker" ] || { echo "no make-debian-layer.sh (set LAYERD_MAKE_DEBIAN_LAYER)" >&2; return 1; }
  echo "building the Debian reference layer in $data (about a minute)..." >&2
  bash "$maker" "$data" >&2
}

debian_oci_layout() {
  local data=$1 dest=$2 ref=$3 name=${4:-} annotations
  annotations="\"org.opencontainers.image.ref.name\":\"$ref\""
  [ -z "$name" ] || annotations="\"io.containerd.image.name\":\"$name\",$annotations"
  rm -rf "$dest" && mkdir -p "$dest/blobs/sha256" && (
    cd "$dest"
    sum() { sha256sum "$1" | cut -d' ' -f1; }
    gz=$(sum "$data/debian.tar.gz") diff=$(sum "$data/debian.tar")
    ln -f "$data/debian.tar.gz" "blobs/sha256/$gz" 2>/dev/null || cp "$data/debian.tar.gz" "blobs/sha256/$gz"
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"config":{"Cmd":["/bin/sh"]}}' \
      "$diff" > c.json
    c=$(sum c.json); cs=$(stat -c %s c.json); mv c.json "blobs/sha256/$c"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
      "$c" "$cs" "$gz" "$(stat -c %s "$data/debian.tar.gz")" > m.json
    m=$(sum m.json); ms=$(stat -c %s m.json); mv m.json "blobs/sha256/$m"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{%s}}]}' \
      "$m" "$ms" "$annotations" > index.json
    echo '{"imageLayoutVersion":"1.0.0"}' > oci-layout
  )
}

debian_oci_archive() {
  local data=$1 name=$2 archive=$1/debian-oci-archive.tar t
  if [ ! -s "$archive" ] || [ "$archive" -ot "$data/debian.tar.gz" ]; then
    t=$(mktemp -d "$data/oci.XXXXXX")
    debian_oci_layout "$data" "$t/layout" latest "$name"
    tar -C "$t/layout" -cf "$archive.tmp" oci-layout index.json blobs
    mv "$archive.tmp" "$archive"
    rm -rf "$t"
  fi
}
