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
