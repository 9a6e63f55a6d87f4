package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code layerctl image unpack}: options, output and errors. */
class ImageCommandTest {
  @TempDir Path tmp;

  private static final ObjectMapper JSON = new ObjectMapper();

  private static Path busybox() {
    return TestData.file("images/busybox-1.38.0-glibc-oci");
  }

  private void assertNothingIn(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(), s.toList());
    }
  }

  @Test
  void imageIsACommand() {
    Cli.Run main = Cli.run("--help").ok();
    assertTrue(main.out().contains("image"), main.out());
    Cli.Run image = Cli.run("image").ok();
    assertTrue(image.out().contains("unpack"), image.out());
    Cli.Run help = Cli.run("image", "unpack", "--help").ok();
    assertTrue(help.out().contains("--platform"), help.out());
    assertTrue(help.out().contains("--ref"), help.out());
  }

  @Test
  void jsonDescribesTheImage() throws IOException {
    Path dest = tmp.resolve("dest");
    JsonNode j =
        Cli.run("image", "unpack", "--json", busybox().toString(), dest.toString()).ok().json();
    assertEquals(dest.toAbsolutePath().toString(), j.get("destination").asText());
    assertEquals("oci-layout", j.get("format").asText());
    assertEquals("busybox:1.38.0-glibc", j.get("ref").asText());
    assertEquals("linux/amd64", j.get("platform").asText());
    assertEquals(
        "sha256:1cfa4e2b09e127b9c4ed43578d3f3c18e7d44ea47b9ea98475c0cbe9086525f8",
        j.get("manifest").asText());
    assertEquals(1, j.get("layers").size());
    assertEquals(410, j.get("layers").get(0).get("hardlinks").asInt());
    assertTrue(Files.isRegularFile(dest.resolve("bin/busybox")));
  }

  @Test
  void textOutputNamesEachLayer() {
    Path image = TestData.file("images/ggcr-whiteout-docker-save.tar");
    Cli.Run r = Cli.run("image", "unpack", image.toString(), tmp.resolve("d").toString()).ok();
    assertEquals(5, r.out().lines().count(), r.out());
    assertTrue(r.out().startsWith("1/4 5692797104b5"), r.out());
    assertTrue(r.out().contains("4/4 83d8d0c9f0c6"), r.out());
    assertTrue(r.out().contains("1 whiteouts"), r.out());
  }

  @Test
  void platformErrors() throws IOException {
    Path parent = Files.createDirectory(tmp.resolve("out"));
    String dest = parent.resolve("d").toString();
    Cli.Run bad = Cli.run("image", "unpack", "--platform", "linux", busybox().toString(), dest);
    assertEquals(2, bad.code(), bad.err());
    assertTrue(bad.err().contains("--platform: not a platform: 'linux'"), bad.err());
    Cli.Run absent =
        Cli.run("image", "unpack", "--platform", "linux/s390x", busybox().toString(), dest);
    assertEquals(ExitCode.BAD_INPUT, absent.code(), absent.err());
    assertTrue(
        absent
            .err()
            .contains("no manifest for the platform linux/s390x; the image has linux/amd64"),
        absent.err());
    assertNothingIn(parent);
  }

  @Test
  void refErrors() throws IOException {
    Path parent = Files.createDirectory(tmp.resolve("out"));
    String dest = parent.resolve("d").toString();
    Cli.Run r = Cli.run("image", "unpack", "--ref", "alpine:3", busybox().toString(), dest);
    assertEquals(ExitCode.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("no image is named 'alpine:3'"), r.err());
    assertTrue(r.err().contains("'busybox:1.38.0-glibc'"), r.err());
    Cli.Run ok =
        Cli.run("image", "unpack", "--ref", "busybox:1.38.0-glibc", busybox().toString(), dest);
    ok.ok();
  }

  @Test
  void missingImageIsBadInput() {
    Cli.Run r =
        Cli.run("image", "unpack", tmp.resolve("nope.tar").toString(), tmp.resolve("d").toString());
    assertEquals(ExitCode.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("no such file"), r.err());
  }

  @Test
  void anImageGivenToPlainUnpackPointsToImageUnpack() {
    Path image = busybox();
    Cli.Run r = Cli.run("unpack", image.toString(), tmp.resolve("d").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("is a directory, not a layer"), r.err());
    assertTrue(r.err().contains("layerctl image unpack " + image), r.err());
  }

  // ------------------------------------------------------------------ images built in code

  private static String sha256(byte[] b) throws IOException {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IOException(e);
    }
  }

  private static byte[] gzip(byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
      out.write(data);
    }
    return bytes.toByteArray();
  }

  private static ObjectNode blob(Path layout, String mediaType, byte[] b) throws IOException {
    String d = sha256(b);
    Files.write(layout.resolve("blobs/sha256/" + d.substring(7)), b);
    ObjectNode n = JSON.createObjectNode();
    n.put("mediaType", mediaType);
    n.put("digest", d);
    n.put("size", b.length);
    return n;
  }

  /** One platform's image: a layer with the file "arch" holding the architecture. */
  private static ObjectNode platformImage(Path layout, String os, String arch) throws IOException {
    byte[] tar = TarBuilder.create().file("arch", arch).build();
    ObjectNode config = JSON.createObjectNode();
    config.put("os", os).put("architecture", arch);
    config.putObject("rootfs").put("type", "layers").putArray("diff_ids").add(sha256(tar));
    ObjectNode m = JSON.createObjectNode();
    m.put("schemaVersion", 2);
    m.put("mediaType", "application/vnd.oci.image.manifest.v1+json");
    m.set(
        "config",
        blob(layout, "application/vnd.oci.image.config.v1+json", JSON.writeValueAsBytes(config)));
    m.putArray("layers")
        .add(blob(layout, "application/vnd.oci.image.layer.v1.tar+gzip", gzip(tar)));
    ObjectNode d =
        blob(layout, "application/vnd.oci.image.manifest.v1+json", JSON.writeValueAsBytes(m));
    d.putObject("platform").put("os", os).put("architecture", arch);
    return d;
  }

  @Test
  void platformChoosesFromAMultiPlatformIndex() throws IOException {
    Path layout = tmp.resolve("multi");
    Files.createDirectories(layout.resolve("blobs/sha256"));
    Files.writeString(layout.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    ObjectNode list = JSON.createObjectNode();
    list.put("schemaVersion", 2);
    list.put("mediaType", "application/vnd.oci.image.index.v1+json");
    ArrayNode ms = list.putArray("manifests");
    for (String arch : List.of("amd64", "arm64", "riscv64")) {
      ms.add(platformImage(layout, "linux", arch));
    }
    ObjectNode nested =
        blob(layout, "application/vnd.oci.image.index.v1+json", JSON.writeValueAsBytes(list));
    nested.putObject("annotations").put("org.opencontainers.image.ref.name", "multi:1");
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    index.putArray("manifests").add(nested);
    Files.write(layout.resolve("index.json"), JSON.writeValueAsBytes(index));

    for (String arch : List.of("arm64", "riscv64", "amd64")) {
      Path dest = tmp.resolve("dest-" + arch);
      JsonNode j =
          Cli.run(
                  "image",
                  "unpack",
                  "--json",
                  "--platform=linux/" + arch,
                  layout.toString(),
                  dest.toString())
              .ok()
              .json();
      assertEquals("linux/" + arch, j.get("platform").asText());
      assertEquals("multi:1", j.get("ref").asText());
      assertEquals(arch, Files.readString(dest.resolve("arch"), StandardCharsets.UTF_8));
    }
    Cli.Run r =
        Cli.run(
            "image",
            "unpack",
            "--platform",
            "linux/ppc64le",
            layout.toString(),
            tmp.resolve("x").toString());
    assertEquals(ExitCode.BAD_INPUT, r.code());
    assertTrue(r.err().contains("the image has linux/amd64, linux/arm64, linux/riscv64"), r.err());
  }

  @Test
  void hostileLayerPathIsRefused() throws IOException {
    byte[] layer = TarBuilder.create().file("f", "x").build();
    ObjectNode config = JSON.createObjectNode();
    config.putObject("rootfs").put("type", "layers").putArray("diff_ids").add(sha256(layer));
    ObjectNode entry = JSON.createObjectNode();
    entry.put("Config", "config.json");
    entry.putArray("Layers").add("../../../../etc/passwd");
    Path image = tmp.resolve("hostile.tar");
    TarBuilder.create()
        .file("config.json", JSON.writeValueAsBytes(config))
        .file("l/layer.tar", layer)
        .file("manifest.json", JSON.writeValueAsBytes(JSON.createArrayNode().add(entry)))
        .writeTo(image);
    Path parent = Files.createDirectory(tmp.resolve("out"));
    Cli.Run r = Cli.run("image", "unpack", image.toString(), parent.resolve("d").toString());
    assertEquals(ExitCode.BAD_INPUT, r.code(), r.err());
    assertTrue(
        r.err().contains("'../../../../etc/passwd' climbs out of the image with '..': refused"),
        r.err());
    assertNothingIn(parent);
  }

  // ------------------------------------------------------------------ whiteout modes

  @Test
  void whiteoutsKeep() {
    Path image = TestData.file("images/ggcr-whiteout-docker-save.tar");
    Path dest = tmp.resolve("keep");
    Cli.run("image", "unpack", "--whiteouts=keep", image.toString(), dest.toString()).ok();
    assertTrue(Files.isRegularFile(dest.resolve(".wh.foo")));
    assertTrue(Files.isRegularFile(dest.resolve("foo/bar")));
  }

  @RootTest
  void whiteoutsOverlay() throws IOException {
    Path image = TestData.file("images/dive-test-docker-image.tar");
    Path dest = tmp.resolve("overlay");
    Cli.run("image", "unpack", "--whiteouts=overlay", image.toString(), dest.toString()).ok();
    Stat st = Sys.lstat(dest.resolve("root/example").toString());
    assertTrue(st.isWhiteoutDevice(), "root/example is a 0/0 character device");
    assertFalse(Files.exists(dest.resolve("root/.wh.example")));
  }
}
