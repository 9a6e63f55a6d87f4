package io.layerd.unpack.image;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Reads the small JSON documents of an image (indexes, manifests, configs), size-limited. */
final class ImageJson {
  private ImageJson() {}

  /**
   * The largest JSON document read (manifests are at most 4 MiB by the distribution spec; configs
   * with a long history are larger, though far below this).
   */
  static final long MAX_JSON = 16L << 20;

  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** A document's digest and what it parses to. */
  record Doc(String digest, JsonNode json) {}

  /**
   * Reads a JSON blob; when {@code expectDigest} is given its bytes must have that sha256 digest
   * (and {@code expectSize} bytes, when not negative).
   */
  static Doc read(
      BlobStore store, BlobStore.Blob blob, String expectDigest, long expectSize, String what)
      throws IOException {
    if (expectSize >= 0 && blob.size() != expectSize) {
      throw new ImageException(
          what
              + ": size mismatch: the descriptor says "
              + expectSize
              + " bytes but "
              + blob.name()
              + " has "
              + blob.size());
    }
    if (blob.size() > MAX_JSON) {
      throw new ImageException(
          what
              + " ("
              + blob.name()
              + ") is "
              + blob.size()
              + " bytes, more than a JSON document"
              + " of an image may be ("
              + MAX_JSON
              + ")");
    }
    byte[] bytes;
    try (InputStream in = store.open(blob)) {
      bytes = in.readNBytes((int) MAX_JSON + 1);
    }
    if (bytes.length != blob.size()) {
      throw new ImageException(
          what + " (" + blob.name() + "): read " + bytes.length + " bytes of " + blob.size());
    }
    String digest = sha256(bytes);
    if (expectDigest != null && !expectDigest.equals(digest)) {
      throw new ImageException(
          what
              + ": digest mismatch: expected "
              + expectDigest
              + " but "
              + blob.name()
              + " gives "
              + digest
              + " (a corrupt or substituted blob)");
    }
    JsonNode json;
    try {
      json = MAPPER.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new ImageException(
          what + " (" + blob.name() + ") is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (json == null || json.isMissingNode()) {
      throw new ImageException(what + " (" + blob.name() + ") is empty");
    }
    return new Doc(digest, json);
  }

  /** The diff_ids of an image config, checked. */
  static List<String> diffIds(JsonNode config, String what) throws ImageException {
    if (!config.isObject()) {
      throw new ImageException(what + " is not a JSON object");
    }
    JsonNode rootfs = config.get("rootfs");
    if (rootfs == null || !rootfs.isObject()) {
      throw new ImageException(what + " has no rootfs: it is not a container image config");
    }
    String type = Descriptor.text(rootfs, "type", what + "'s rootfs", false);
    if (type != null && !type.equals("layers")) {
      throw new ImageException(what + ": rootfs.type is '" + type + "', not 'layers'");
    }
    JsonNode ids = rootfs.get("diff_ids");
    if (ids == null || !ids.isArray()) {
      throw new ImageException(what + " has no rootfs.diff_ids list");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode id : ids) {
      if (!id.isTextual()) {
        throw new ImageException(what + ": rootfs.diff_ids holds a value that is not a string");
      }
      out.add(Descriptor.checkDigest(id.asText(), what + "'s diff_id " + (out.size() + 1)));
    }
    return out;
  }

  /** The platform an image config states, or null when it states none. */
  static Platform platformOf(JsonNode config) throws ImageException {
    String os = Descriptor.text(config, "os", "the image config", false);
    String arch = Descriptor.text(config, "architecture", "the image config", false);
    if (os == null || arch == null) {
      return null;
    }
    return new Platform(os, arch, Descriptor.text(config, "variant", "the image config", false));
  }

  static String sha256(byte[] bytes) {
    try {
      return "sha256:"
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}
