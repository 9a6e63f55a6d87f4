package io.layerd.unpack;

import java.util.List;

/**
 * What applying one layer did.
 *
 * @param entries tar entries read (whiteouts included)
 * @param digest the digest of the layer as given (compressed), "sha256:..."
 * @param diffId the digest of the uncompressed tar, "sha256:..."
 * @param fileBytes the regular files' sizes added up (sparse files at their expanded size): the
 *     size Docker's naive-diff drivers report for an applied layer
 * @param skippedDevices device entries not created (mknod refused in a user namespace)
 * @param refusedXattrs xattrs the target refused (EPERM, ENOTSUP)
 * @param keptOwners entries whose owner was left as created (the "skip" policy)
 * @param warnings readable warnings, at most a few hundred
 */
public record ApplyResult(
    String layer,
    Compression compression,
    long entries,
    long compressedSize,
    long uncompressedSize,
    String digest,
    String diffId,
    long files,
    long fileBytes,
    long directories,
    long symlinks,
    long hardlinks,
    long whiteouts,
    long skippedDevices,
    long refusedXattrs,
    long keptOwners,
    List<String> warnings) {
  public ApplyResult {
    warnings = List.copyOf(warnings);
  }
}
