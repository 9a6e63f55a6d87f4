package io.layerd.unpack.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * An OCI content descriptor, as read from an index or a manifest, checked at the edge: the digest
 * is well formed (and its blob path therefore stays in {@code blobs/}) and the size is a count.
 *
 * @param mediaType the media type, or null when the descriptor gives none
 * @param platform the platform, or null
 * @param annotations the annotations (string values only)
 * @param artifactType the artifact type, or null (set on non-image artifacts)
 */
record Descriptor(
    String mediaType,
    String digest,
    long size,
    Platform platform,
    Map<String, String> annotations,
    String artifactType,
    boolean hasUrls) {
  static final String REF_NAME = "org.opencontainers.image.ref.name";
  static final String CONTAINERD_NAME = "io.containerd.image.name";

  /** The digest grammar of the OCI image spec. */
  private static final Pattern DIGEST =
      Pattern.compile("[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+");

  private static final Pattern SHA256 = Pattern.compile("sha256:[a-f0-9]{64}");

  Descriptor {
    annotations = Map.copyOf(annotations);
  }

  /** Where the blob lies in an image layout: {@code blobs/ALGORITHM/ENCODED}. */
  String blobPath() {
    int colon = digest.indexOf(':');
    return "blobs/" + digest.substring(0, colon) + "/" + digest.substring(colon + 1);
  }

  String refName() {
    return annotations.get(REF_NAME);
  }

  /** Reads a descriptor; {@code what} names it in messages ("layer 2 of manifest sha256:..."). */
  static Descriptor parse(JsonNode n, String what) throws ImageException {
    if (n == null || !n.isObject()) {
      throw new ImageException(what + " is not a descriptor (a JSON object)");
    }
    String digest = checkDigest(text(n, "digest", what, true), what);
    JsonNode size = n.get("size");
    if (size == null || !size.canConvertToLong() || !size.isIntegralNumber() || size.asLong() < 0) {
      throw new ImageException(what + " has no valid size (a count of bytes)");
    }
    Platform platform = null;
    JsonNode p = n.get("platform");
    if (p != null && p.isObject()) {
      String os = text(p, "os", what + "'s platform", true);
      String arch = text(p, "architecture", what + "'s platform", true);
      platform = new Platform(os, arch, text(p, "variant", what + "'s platform", false));
    }
    Map<String, String> ann = new LinkedHashMap<>();
    JsonNode a = n.get("annotations");
    if (a != null && a.isObject()) {
      for (Map.Entry<String, JsonNode> e : a.properties()) {
        if (e.getValue().isTextual()) {
          ann.put(e.getKey(), e.getValue().asText());
        }
      }
    }
    JsonNode urls = n.get("urls");
    return new Descriptor(
        text(n, "mediaType", what, false),
        digest,
        size.asLong(),
        platform,
        ann,
        text(n, "artifactType", what, false),
        urls != null && urls.isArray() && !urls.isEmpty());
  }

  /**
   * The digest when it is well formed and sha256 (the one algorithm layerd verifies), else a
   * message naming {@code what}.
   */
  static String checkDigest(String digest, String what) throws ImageException {
    if (!DIGEST.matcher(digest).matches()) {
      throw new ImageException(
          what + " has a malformed digest '" + ImagePaths.printable(digest) + "'");
    }
    if (!SHA256.matcher(digest).matches()) {
      throw new ImageException(
          what
              + " has the digest "
              + digest
              + ": layerd verifies only sha256 digests (64 lower-case hex digits)");
    }
    return digest;
  }

  static String text(JsonNode n, String field, String what, boolean required)
      throws ImageException {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      if (required) {
        throw new ImageException(what + " has no '" + field + "'");
      }
      return null;
    }
    if (!v.isTextual()) {
      throw new ImageException(what + ": '" + field + "' is not a string");
    }
    return v.asText();
  }
}
