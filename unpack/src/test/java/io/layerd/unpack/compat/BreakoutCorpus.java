package io.layerd.unpack.compat;

import io.layerd.unpack.BreakoutCases;
import io.layerd.unpack.BreakoutCases.Case;
import io.layerd.unpack.BreakoutCases.Host;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Writes every case of {@link BreakoutCases} to disk for {@code unpack/compat/breakouts.sh}, which
 * runs them against GNU tar, umoci and layerd. Not a test: a tool for humans.
 *
 * <pre>
 * BreakoutCorpus OUT TOOL...
 * </pre>
 *
 * For each tool (a name; each gets its own copy, since a case's archives name the absolute path of
 * its victim) and each case, {@code OUT/TOOL/NN-origin-Name/} holds:
 *
 * <ul>
 *   <li>{@code host/sandbox/root/} (empty), {@code host/sandbox/victim/}, {@code
 *       host/sandbox/root-evil/}: the host around the root, as {@link BreakoutCases#prepareHost}
 *       makes it; anything a tool changes under {@code host/} outside the root is an escape;
 *   <li>{@code lower.tar} (when the case has state already on disk) and {@code layer.tar};
 *   <li>{@code oci/}: an OCI image layout with those layers (uncompressed), tagged {@code case},
 *       for {@code umoci raw unpack};
 *   <li>{@code expect}: what layerd must do ({@code CONFINED} or {@code INVALID}).
 * </ul>
 *
 * {@code OUT/cases.tsv} lists the cases: directory, origin, name, expectation.
 */
public final class BreakoutCorpus {
  private BreakoutCorpus() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2) {
      System.err.println("usage: BreakoutCorpus OUT TOOL...");
      System.exit(2);
    }
    Path out = Path.of(args[0]).toAbsolutePath().normalize();
    Files.createDirectories(out);
    List<Case> cases = BreakoutCases.all();
    StringBuilder tsv = new StringBuilder();
    for (int i = 0; i < cases.size(); i++) {
      Case c = cases.get(i);
      String dir = String.format("%02d-%s-%s", i + 1, c.origin(), c.name());
      tsv.append(dir)
          .append('\t')
          .append(c.origin())
          .append('\t')
          .append(c.name())
          .append('\t')
          .append(c.outcome())
          .append('\n');
      for (int t = 1; t < args.length; t++) {
        write(out.resolve(args[t]).resolve(dir), c);
      }
    }
    Files.writeString(out.resolve("cases.tsv"), tsv.toString(), StandardCharsets.UTF_8);
    System.out.println(cases.size() + " cases written to " + out);
  }

  static void write(Path dir, Case c) throws IOException {
    Files.createDirectories(dir);
    Host h = new Host(dir.resolve("host/sandbox"));
    BreakoutCases.prepareHost(h);
    List<byte[]> layers = new ArrayList<>();
    if (c.lower() != null) {
      byte[] lower = c.lower().apply(h).build();
      Files.write(dir.resolve("lower.tar"), lower);
      layers.add(lower);
    }
    byte[] layer = c.layer().apply(h).build();
    Files.write(dir.resolve("layer.tar"), layer);
    layers.add(layer);
    writeOciLayout(dir.resolve("oci"), layers);
    Files.writeString(dir.resolve("expect"), c.outcome() + "\n", StandardCharsets.UTF_8);
  }

  /** A minimal OCI image layout (image-spec v1.0): uncompressed layers, one manifest "case". */
  static void writeOciLayout(Path oci, List<byte[]> layers) throws IOException {
    Path blobs = Files.createDirectories(oci.resolve("blobs/sha256"));
    StringBuilder layerDescs = new StringBuilder();
    StringBuilder diffIds = new StringBuilder();
    for (byte[] l : layers) {
      String d = blob(blobs, l);
      layerDescs
          .append(layerDescs.length() == 0 ? "" : ",")
          .append(descriptor("application/vnd.oci.image.layer.v1.tar", d, l.length, null));
      diffIds.append(diffIds.length() == 0 ? "" : ",").append('"').append(d).append('"');
    }
    byte[] config =
        ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                + diffIds
                + "]}}")
            .getBytes(StandardCharsets.UTF_8);
    String configDigest = blob(blobs, config);
    byte[] manifest =
        ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                + "\"config\":"
                + descriptor(
                    "application/vnd.oci.image.config.v1+json", configDigest, config.length, null)
                + ",\"layers\":["
                + layerDescs
                + "]}")
            .getBytes(StandardCharsets.UTF_8);
    String manifestDigest = blob(blobs, manifest);
    String index =
        "{\"schemaVersion\":2,\"manifests\":["
            + descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                manifestDigest,
                manifest.length,
                "case")
            + "]}";
    Files.writeString(oci.resolve("index.json"), index, StandardCharsets.UTF_8);
    Files.writeString(
        oci.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}", StandardCharsets.UTF_8);
  }

  private static String descriptor(String mediaType, String digest, long size, String ref) {
    return "{\"mediaType\":\""
        + mediaType
        + "\",\"digest\":\""
        + digest
        + "\",\"size\":"
        + size
        + (ref == null
            ? ""
            : ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" + ref + "\"}")
        + "}";
  }

  private static String blob(Path blobs, byte[] content) throws IOException {
    String hex;
    try {
      hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    Files.write(blobs.resolve(hex), content);
    return "sha256:" + hex;
  }
}
