package io.layerd.unpack.image;

import java.io.IOException;
import java.util.List;

/**
 * What an image resolves to before anything is written: the chosen manifest and the layers to
 * apply, each with the digests it must have.
 */
record Plan(
    String format,
    String refName,
    Platform platform,
    String manifestDigest,
    String configDigest,
    List<Layer> layers,
    List<String> warnings) {
  Plan {
    layers = List.copyOf(layers);
    warnings = List.copyOf(warnings);
  }

  /**
   * The plan of the image in {@code store}: an OCI layout when it has index.json or oci-layout,
   * else a docker-save archive when it has manifest.json.
   */
  static Plan read(BlobStore store, String image, Platform platform, String ref)
      throws IOException {
    if (store.find("index.json") != null || store.find("oci-layout") != null) {
      return OciLayout.plan(store, image, platform, ref);
    }
    if (store.find("manifest.json") != null) {
      return DockerSave.plan(store, image, platform, ref);
    }
    throw new ImageException(
        image
            + " is neither an OCI image layout (no index.json) nor a docker-save archive (no"
            + " manifest.json)");
  }

  /**
   * One layer to apply.
   *
   * @param name how messages and results name it: "N/COUNT digest-or-path"
   * @param digest the digest of the blob as stored, or null when the image does not give it
   * @param diffId the digest of the uncompressed tar (the config's rootfs.diff_ids)
   */
  record Layer(String name, BlobStore.Blob blob, String digest, String diffId) {}
}
