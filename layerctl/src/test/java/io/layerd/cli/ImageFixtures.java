package io.layerd.cli;

import io.layerd.unpack.internal.LayerStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/** Images built in code around layers: docker-save archives and OCI layouts. */
final class ImageFixtures {
  private ImageFixtures() {}

  static String sha256(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** The diffID of a layer: the digest of its uncompressed tar. */
  static String diffId(byte[] layer) throws IOException {
    try (LayerStream s = LayerStream.open(new ByteArrayInputStream(layer))) {
      return s.finish().diffId();
    }
  }

  /** A config whose rootfs.diff_ids are those of the layers. */
  static byte[] config(List<byte[]> layers) throws IOException {
    StringBuilder ids = new StringBuilder();
    for (byte[] l : layers) {
      ids.append(ids.length() == 0 ? "" : ",").append('"').append(diffId(l)).append('"');
    }
    return ("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + ids + "]}}")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** A tar of named members (in order). */
  static byte[] tar(Map<String, byte[]> members) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (TarArchiveOutputStream t = new TarArchiveOutputStream(out)) {
      t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Map.Entry<String, byte[]> m : members.entrySet()) {
        TarArchiveEntry e = new TarArchiveEntry(m.getKey());
        e.setSize(m.getValue().length);
        t.putArchiveEntry(e);
        t.write(m.getValue());
        t.closeArchiveEntry();
      }
    }
    return out.toByteArray();
  }

  /** A docker-save archive: LAYER_i/layer.tar for each layer, and manifest.json. */
  static byte[] dockerSave(List<byte[]> layers) throws IOException {
    Map<String, byte[]> m = new LinkedHashMap<>();
    StringBuilder paths = new StringBuilder();
    byte[] config = config(layers);
    m.put("config.json", config);
    for (int i = 0; i < layers.size(); i++) {
      String p = "l" + i + "/layer.tar";
      m.put(p, layers.get(i));
      paths.append(i == 0 ? "" : ",").append('"').append(p).append('"');
    }
    m.put(
        "manifest.json",
        ("[{\"Config\":\"config.json\",\"RepoTags\":[\"t:1\"],\"Layers\":[" + paths + "]}]")
            .getBytes(StandardCharsets.UTF_8));
    return tar(m);
  }

  /** The members of an OCI layout: oci-layout, index.json, blobs (manifest, config, layers). */
  static Map<String, byte[]> ociMembers(List<byte[]> layers) throws IOException {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
    byte[] config = config(layers);
    StringBuilder ls = new StringBuilder();
    for (int i = 0; i < layers.size(); i++) {
      String d = sha256(layers.get(i));
      m.put("blobs/sha256/" + d.substring(7), layers.get(i));
      ls.append(i == 0 ? "" : ",")
          .append("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"")
          .append(d)
          .append("\",\"size\":")
          .append(layers.get(i).length)
          .append('}');
    }
    m.put("blobs/sha256/" + sha256(config).substring(7), config);
    byte[] manifest =
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                + "\"digest\":\""
                + sha256(config)
                + "\",\"size\":"
                + config.length
                + "},\"layers\":["
                + ls
                + "]}")
            .getBytes(StandardCharsets.UTF_8);
    String md = sha256(manifest);
    m.put("blobs/sha256/" + md.substring(7), manifest);
    // an index pointing at a nested index, as multi-platform images do
    byte[] inner =
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                + "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"digest\":\""
                + md
                + "\",\"size\":"
                + manifest.length
                + "}]}")
            .getBytes(StandardCharsets.UTF_8);
    String id = sha256(inner);
    m.put("blobs/sha256/" + id.substring(7), inner);
    m.put(
        "index.json",
        ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
                + "\"application/vnd.oci.image.index.v1+json\",\"digest\":\""
                + id
                + "\",\"size\":"
                + inner.length
                + "}]}")
            .getBytes(StandardCharsets.UTF_8));
    return m;
  }

  /** Writes an OCI layout directory. */
  static void ociDirectory(Path dir, List<byte[]> layers) throws IOException {
    for (Map.Entry<String, byte[]> e : ociMembers(layers).entrySet()) {
      Path p = dir.resolve(e.getKey());
      Files.createDirectories(p.getParent());
      Files.write(p, e.getValue());
    }
  }
}
