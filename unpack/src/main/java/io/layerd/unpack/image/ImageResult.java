package io.layerd.unpack.image;

import io.layerd.unpack.ApplyResult;
import java.util.List;

/**
 * What unpacking an image did.
 *
 * @param format {@link #OCI_LAYOUT} or {@link #DOCKER_SAVE}
 * @param refName the reference the image was chosen by (an OCI ref.name annotation or a docker
 *     RepoTag), or null when the image has none
 * @param platform the platform of the manifest that was unpacked, or null when the image does not
 *     say
 * @param manifestDigest the digest of the unpacked manifest, or null for a docker-save archive
 * @param configDigest the digest of the image config, or null when a docker-save archive names its
 *     config by a path that does not carry it
 * @param layers what applying each layer did, in order
 * @param warnings readable notes about the image itself (the layers' own are in {@code layers})
 */
public record ImageResult(
    String format,
    String refName,
    Platform platform,
    String manifestDigest,
    String configDigest,
    List<ApplyResult> layers,
    List<String> warnings) {
  /** An OCI image layout, as a directory or a tar. */
  public static final String OCI_LAYOUT = "oci-layout";

  /** A {@code docker save} archive (manifest.json). */
  public static final String DOCKER_SAVE = "docker-save";

  public ImageResult {
    layers = List.copyOf(layers);
    warnings = List.copyOf(warnings);
  }
}
