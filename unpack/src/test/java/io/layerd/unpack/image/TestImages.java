package io.layerd.unpack.image;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.testkit.TarBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Images for tests: OCI layouts and archives built in code (the repository's real test data is
 * {@link io.layerd.testkit.TestData}).
 */
final class TestImages {
  private TestImages() {}

  static final String LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
  static final String LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

  private static final ObjectMapper JSON = new ObjectMapper();

  static String sha256(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] json(Object node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ObjectNode object() {
    return JSON.createObjectNode();
  }

  /** An image config for layers with these diff_ids. */
  static byte[] config(String os, String arch, String variant, List<String> diffIds) {
    ObjectNode c = object();
    c.put("architecture", arch);
    c.put("os", os);
    if (variant != null) {
      c.put("variant", variant);
    }
    ObjectNode rootfs = c.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode ids = rootfs.putArray("diff_ids");
    diffIds.forEach(ids::add);
    return json(c);
  }

  /** An OCI image layout written into a directory as it is built. */
  static final class Layout {
    final Path dir;
    private final ArrayNode manifests;
    private final ObjectNode index = object();

    Layout(Path dir) throws IOException {
      this.dir = dir;
      Files.createDirectories(dir.resolve("blobs/sha256"));
      Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
      index.put("schemaVersion", 2);
      index.put("mediaType", OciLayout.OCI_INDEX);
      manifests = index.putArray("manifests");
    }

    /** Stores a blob; returns its digest. */
    String put(byte[] blob) throws IOException {
      String d = sha256(blob);
      Files.write(dir.resolve("blobs/sha256/" + d.substring(7)), blob);
      return d;
    }

    /** Stores a blob and returns its descriptor. */
    ObjectNode descriptor(String mediaType, byte[] blob) throws IOException {
      ObjectNode n = object();
      n.put("mediaType", mediaType);
      n.put("digest", put(blob));
      n.put("size", blob.length);
      return n;
    }

    /**
     * Stores an image of these layer tars (gzipped) for a platform; returns the manifest's
     * descriptor with the platform set.
     */
    ObjectNode image(String platform, byte[]... layerTars) throws IOException {
      String[] p = platform.split("/");
      List<String> diffIds = new ArrayList<>();
      ObjectNode m = object();
      m.put("schemaVersion", 2);
      m.put("mediaType", OciLayout.OCI_MANIFEST);
      ArrayNode layers = m.putArray("layers");
      for (byte[] tar : layerTars) {
        diffIds.add(sha256(tar));
        layers.add(descriptor(LAYER_GZIP, TarBuilder.gzip(tar)));
      }
      m.set(
          "config",
          descriptor(
              OciLayout.OCI_CONFIG, config(p[0], p[1], p.length > 2 ? p[2] : null, diffIds)));
      ObjectNode d = descriptor(OciLayout.OCI_MANIFEST, json(m));
      ObjectNode plat = d.putObject("platform");
      plat.put("os", p[0]);
      plat.put("architecture", p[1]);
      if (p.length > 2) {
        plat.put("variant", p[2]);
      }
      return d;
    }

    /** Stores an index of these descriptors; returns its descriptor. */
    ObjectNode nestedIndex(ObjectNode... entries) throws IOException {
      ObjectNode i = object();
      i.put("schemaVersion", 2);
      i.put("mediaType", OciLayout.OCI_INDEX);
      ArrayNode list = i.putArray("manifests");
      for (ObjectNode e : entries) {
        list.add(e);
      }
      return descriptor(OciLayout.OCI_INDEX, json(i));
    }

    /** Adds a descriptor to index.json, with a ref name unless null. */
    Layout add(ObjectNode descriptor, String refName) {
      return add(descriptor, refName, null);
    }

    /** Adds a descriptor to index.json with a ref name and containerd's image name (or nulls). */
    Layout add(ObjectNode descriptor, String refName, String containerdName) {
      ObjectNode d = descriptor.deepCopy();
      if (refName != null || containerdName != null) {
        ObjectNode a = d.putObject("annotations");
        if (refName != null) {
          a.put(Descriptor.REF_NAME, refName);
        }
        if (containerdName != null) {
          a.put(Descriptor.CONTAINERD_NAME, containerdName);
        }
      }
      manifests.add(d);
      return this;
    }

    /** Writes index.json; returns the layout's directory. */
    Path write() throws IOException {
      Files.write(dir.resolve("index.json"), json(index));
      return dir;
    }
  }

  /** The regular files under a directory as an uncompressed tar (relative names, sorted). */
  static void tarUp(Path dir, Path out) throws IOException {
    TarBuilder t = TarBuilder.create();
    List<Path> files;
    try (Stream<Path> s = Files.walk(dir)) {
      files = s.filter(Files::isRegularFile).sorted().toList();
    }
    for (Path f : files) {
      t.file(dir.relativize(f).toString(), Files.readAllBytes(f));
    }
    t.writeTo(out);
  }
}
