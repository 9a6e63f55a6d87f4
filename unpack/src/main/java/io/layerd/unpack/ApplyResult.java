package io.layerd.unpack;

import java.util.List;

/**
 * What applying one layer did.
 *
 * @param layer the layer's name, as the caller gave it
 * @param digests what the layer's bytes turned out to be
 * @param counts the entries read and what they made
 * @param skipped what the target or the owner policy did not let be applied as the layer says
 * @param warnings readable warnings, at most a few hundred
 */
public record ApplyResult(
    String layer, Digests digests, Counts counts, Skipped skipped, List<String> warnings) {
  public ApplyResult {
    warnings = List.copyOf(warnings);
  }

  /**
   * What a layer's byte stream turned out to be.
   *
   * @param digest the digest of the layer as given (compressed), "sha256:..."
   * @param compressedSize the layer's size as given
   * @param diffId the digest of the uncompressed tar, "sha256:..."
   * @param uncompressedSize the uncompressed tar's size (bytes after its end blocks included)
   */
  public record Digests(
      Compression compression,
      String digest,
      long compressedSize,
      String diffId,
      long uncompressedSize) {}

  /**
   * The layer's entries, and what they made.
   *
   * @param entries tar entries read (whiteouts included)
   * @param fileBytes the regular files' sizes added up (sparse files at their expanded size): the
   *     size Docker's naive-diff drivers report for an applied layer
   * @param whiteouts entries read as whiteouts (opaque markers and AUFS metadata included)
   */
  public record Counts(
      long entries,
      long files,
      long fileBytes,
      long directories,
      long symlinks,
      long hardlinks,
      long whiteouts) {}

  /**
   * What was not applied as the layer says; each is also told in the warnings or chosen by the
   * owner policy.
   *
   * @param devices device entries not created (mknod refused in a user namespace)
   * @param xattrs xattrs the target refused (EPERM, ENOTSUP)
   * @param owners entries whose owner was left as created (the "skip" policy)
   */
  public record Skipped(long devices, long xattrs, long owners) {}
}
