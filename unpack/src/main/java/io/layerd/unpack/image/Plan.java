package io.layerd.unpack.image;

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
   * One layer to apply.
   *
   * @param name how messages and results name it: "N/COUNT digest-or-path"
   * @param digest the digest of the blob as stored, or null when the image does not give it
   * @param diffId the digest of the uncompressed tar (the config's rootfs.diff_ids)
   */
  record Layer(String name, BlobStore.Blob blob, String digest, String diffId) {}
}
