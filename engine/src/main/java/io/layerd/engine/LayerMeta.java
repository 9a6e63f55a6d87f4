package io.layerd.engine;

/**
 * What the store records of one layer.
 *
 * @param parent the parent's id, or null for a base layer
 * @param readWrite true for a container's (or an -init) layer that is mounted writable
 * @param diffId the digest of the tar last applied, or null
 * @param size the bytes of file content the layer's own changes hold (DiffSize), or -1 unknown
 * @param created creation time, epoch milliseconds
 * @param applying true while a layer is being made or its tar applied (a crash leaves it half-made;
 *     recovery removes it)
 */
public record LayerMeta(
    String id,
    String parent,
    boolean readWrite,
    String diffId,
    long size,
    long created,
    boolean applying) {

  public LayerMeta withApplying(boolean a) {
    return new LayerMeta(id, parent, readWrite, diffId, size, created, a);
  }

  public LayerMeta withDiff(String d, long s) {
    return new LayerMeta(id, parent, readWrite, d, s, created, applying);
  }
}
