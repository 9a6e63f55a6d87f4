package io.layerd.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * An OCI image archive from testdata, named: its index's manifests annotated with {@code
 * io.containerd.image.name} and {@code org.opencontainers.image.ref.name} = a full reference
 * ({@code docker.io/library/NAME:TAG}). With the containerd image store, dockerd and ctr take that
 * name as it is; a short one ({@code busybox:1.38.0-glibc}) is not normalized.
 */
final class OciArchive {
  private static final ObjectMapper JSON = new ObjectMapper();

  private OciArchive() {}

  /**
   * Writes {@code out}: the OCI layout {@code source} (a directory or a tar of one) with every
   * manifest of its index named {@code name}. Returns the chain ID of the first manifest's layers.
   */
  static String named(Path source, String name, Path out) throws IOException {
    Map<String, byte[]> files = new LinkedHashMap<>();
    if (Files.isDirectory(source)) {
      try (Stream<Path> s = Files.walk(source)) {
        for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
          files.put(source.relativize(p).toString(), Files.readAllBytes(p));
        }
      }
    } else {
      try (InputStream in = Files.newInputStream(source)) {
        TarReader r = new TarReader(in);
        for (TarEntry e = r.next(); e != null; e = r.next()) {
          if (e.type() == TarEntry.Type.FILE) {
            files.put(e.displayName().replaceFirst("^\\./", ""), r.content().readAllBytes());
          }
        }
      }
    }
    ObjectNode index = (ObjectNode) JSON.readTree(files.get("index.json"));
    String firstManifest = null;
    for (JsonNode m : index.get("manifests")) {
      ObjectNode a =
          m.has("annotations")
              ? (ObjectNode) m.get("annotations")
              : ((ObjectNode) m).putObject("annotations");
      a.put("io.containerd.image.name", name);
      a.put("org.opencontainers.image.ref.name", name);
      if (firstManifest == null) {
        firstManifest = m.get("digest").asText();
      }
    }
    files.put("index.json", JSON.writeValueAsBytes(index));
    TarBuilder tar = TarBuilder.create();
    tar.dir("blobs/").dir("blobs/sha256/");
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      tar.file(e.getKey(), e.getValue());
    }
    try (OutputStream o = Files.newOutputStream(out)) {
      tar.writeTo(o);
    }
    JsonNode manifest = JSON.readTree(files.get(blob(firstManifest)));
    JsonNode config = JSON.readTree(files.get(blob(manifest.at("/config/digest").asText())));
    return chainId(DockerTestImage.diffIds(config));
  }

  /**
   * Writes {@code out}: an OCI archive of one image named {@code name} for this machine's
   * linux/amd64 platform, whose one layer is {@code layerBlob} with media type {@code
   * layerMediaType} and diff ID the digest of {@code diffTar}. Returns that diff ID, which is also
   * the image's chain ID.
   */
  static String single(
      String name, String layerMediaType, byte[] layerBlob, byte[] diffTar, Path out)
      throws IOException {
    return image(name, List.of(new Layer(layerMediaType, layerBlob, diffTar)), out);
  }

  /**
   * A layer of {@link #image}: its blob as stored, with its media type, and the tar it stands for
   * (its digest is the diff ID).
   */
  record Layer(String mediaType, byte[] blob, byte[] tar) {
    String diffId() {
      return "sha256:" + DockerTestImage.sha256(tar);
    }
  }

  /**
   * Writes {@code out}: an OCI archive of one image named {@code name} for this machine's
   * linux/amd64 platform with these layers, bottom first. Returns the image's chain ID.
   */
  static String image(String name, List<Layer> layers, Path out) throws IOException {
    ObjectNode config = JSON.createObjectNode().put("architecture", "amd64").put("os", "linux");
    config.putObject("config");
    var diffIds = config.putObject("rootfs").put("type", "layers").putArray("diff_ids");
    for (Layer l : layers) {
      diffIds.add(l.diffId());
    }
    byte[] configBytes = JSON.writeValueAsBytes(config);
    ObjectNode manifest = JSON.createObjectNode().put("schemaVersion", 2);
    manifest.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    descriptor(
        manifest.putObject("config"), "application/vnd.oci.image.config.v1+json", configBytes);
    var layerDescriptors = manifest.putArray("layers");
    for (Layer l : layers) {
      descriptor(layerDescriptors.addObject(), l.mediaType(), l.blob());
    }
    byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
    ObjectNode index = JSON.createObjectNode().put("schemaVersion", 2);
    ObjectNode m = index.putArray("manifests").addObject();
    descriptor(m, "application/vnd.oci.image.manifest.v1+json", manifestBytes);
    m.putObject("platform").put("architecture", "amd64").put("os", "linux");
    m.putObject("annotations")
        .put("io.containerd.image.name", name)
        .put("org.opencontainers.image.ref.name", name);
    TarBuilder tar =
        TarBuilder.create()
            .file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}")
            .file("index.json", JSON.writeValueAsBytes(index))
            .dir("blobs/")
            .dir("blobs/sha256/");
    List<byte[]> blobs = new ArrayList<>(List.of(configBytes, manifestBytes));
    for (Layer l : layers) {
      blobs.add(l.blob());
    }
    for (byte[] b : blobs) {
      tar.file("blobs/sha256/" + DockerTestImage.sha256(b), b);
    }
    try (OutputStream o = Files.newOutputStream(out)) {
      tar.writeTo(o);
    }
    return chainId(layers.stream().map(Layer::diffId).toList());
  }

  private static void descriptor(ObjectNode d, String mediaType, byte[] content) {
    d.put("mediaType", mediaType)
        .put("digest", "sha256:" + DockerTestImage.sha256(content))
        .put("size", content.length);
  }

  private static String blob(String digest) {
    return "blobs/" + digest.replace(':', '/');
  }

  /** The chain ID of layers with these diff IDs (the OCI image spec's ChainID). */
  static String chainId(List<String> diffIds) {
    List<String> chain = new ArrayList<>();
    for (String d : diffIds) {
      chain.add(
          chain.isEmpty()
              ? d
              : "sha256:"
                  + DockerTestImage.sha256(
                      (chain.get(chain.size() - 1) + " " + d).getBytes(StandardCharsets.UTF_8)));
    }
    return chain.get(chain.size() - 1);
  }
}
