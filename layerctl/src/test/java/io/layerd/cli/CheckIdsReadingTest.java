package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import io.layerd.unpack.image.ImageReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What check-ids reads: every entry's owner, from unpack's {@link ImageReader}. */
class CheckIdsReadingTest {
  @TempDir Path dir;

  /** layer:path:uid:gid for every entry. */
  private static List<String> entries(Path input) throws IOException {
    List<String> out = new ArrayList<>();
    try (ImageReader s = open(input)) {
      s.forEachEntry(
          (layer, e) ->
              out.add(
                  layer + ":" + CheckIdsCommand.path(e.name()) + ":" + e.uid() + ":" + e.gid()));
    }
    return out;
  }

  private static ImageReader open(Path input) throws IOException {
    return ImageReader.open(input, null, null);
  }

  private static TarBuilder layer() {
    return TarBuilder.create()
        .dir("usr/")
        .file("usr/big", "x")
        .owner(70000, 5000)
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  }

  @Test
  void everyCompressionByMagicBytes() throws IOException {
    Map<String, Function<TarBuilder, byte[]>> kinds = new LinkedHashMap<>();
    kinds.put("tar", TarBuilder::build);
    kinds.put("gz", TarBuilder::gzip);
    kinds.put("zstd", TarBuilder::zstd);
    kinds.put("xz", TarBuilder::xz);
    kinds.put("bzip2", TarBuilder::bzip2);
    kinds.put("gz-multi", TarBuilder::gzipMultiMember);
    for (Map.Entry<String, Function<TarBuilder, byte[]>> k : kinds.entrySet()) {
      Path p = dir.resolve("layer-" + k.getKey() + ".bin"); // the name says nothing
      Files.write(p, k.getValue().apply(layer()));
      String n = p.getFileName().toString();
      assertEquals(
          List.of(n + ":usr:0:0", n + ":usr/big:70000:5000", n + ":etc/passwd:0:0"),
          entries(p),
          k.getKey());
    }
  }

  @Test
  void bigIdsFromPaxHeaders() throws IOException {
    Path p = dir.resolve("l.tar");
    Files.write(p, TarBuilder.create().file("f", "x").owner(4294967294L, 3000000000L).build());
    assertEquals(List.of("l.tar:f:4294967294:3000000000"), entries(p));
  }

  @Test
  void dockerSaveArchive() throws IOException {
    Path p = dir.resolve("image.tar");
    Files.write(
        p,
        ImageFixtures.dockerSave(
            List.of(layer().build(), TarBuilder.create().file("x", "y").owner(7, 8).gzip())));
    try (ImageReader s = open(p)) {
      assertEquals("docker-save image", s.kind());
      assertEquals(List.of("l0/layer.tar", "l1/layer.tar"), s.layerNames());
    }
    assertEquals(
        List.of(
            "l0/layer.tar:usr:0:0",
            "l0/layer.tar:usr/big:70000:5000",
            "l0/layer.tar:etc/passwd:0:0",
            "l1/layer.tar:x:7:8"),
        entries(p));
  }

  @Test
  void ociLayoutDirectoryAndArchiveWithNestedIndex() throws IOException {
    byte[] l0 = layer().gzip();
    byte[] l1 = TarBuilder.create().file("x", "y").owner(7, 8).zstd();
    Path oci = dir.resolve("oci");
    ImageFixtures.ociDirectory(oci, List.of(l0, l1, l0)); // a repeated layer is read once
    List<String> want =
        List.of(
            ImageFixtures.sha256(l0) + ":usr:0:0",
            ImageFixtures.sha256(l0) + ":usr/big:70000:5000",
            ImageFixtures.sha256(l0) + ":etc/passwd:0:0",
            ImageFixtures.sha256(l1) + ":x:7:8");
    assertEquals(want, entries(oci));
    Path tar = dir.resolve("oci.tar");
    Files.write(tar, ImageFixtures.tar(ImageFixtures.ociMembers(List.of(l0, l1))));
    try (ImageReader s = open(tar)) {
      assertEquals("OCI image archive", s.kind());
    }
    assertEquals(want, entries(tar));
  }

  @Test
  void digestsCannotLeaveTheLayout() throws IOException {
    Path oci = dir.resolve("oci");
    Files.createDirectories(oci);
    Files.writeString(
        oci.resolve("index.json"), "{\"manifests\":[{\"digest\":\"sha256:../../../etc/passwd\"}]}");
    IOException e = assertThrows(IOException.class, () -> open(oci));
    assertTrue(e.getMessage().contains("malformed digest"), e.getMessage());
  }

  @Test
  void notALayer() throws IOException {
    Path p = dir.resolve("junk");
    Files.writeString(p, "this is not a tar archive at all, just text");
    assertThrows(IOException.class, () -> entries(p));
    assertThrows(IOException.class, () -> open(dir.resolve("missing")));
    assertThrows(IOException.class, () -> open(dir)); // a directory without an image
  }

  @Test
  void realImagesAndLayers() throws IOException {
    // files owned by uid 185992 / gid 5000 (go-containerregistry's test image)
    List<String> ggcr = entries(TestData.file("images/ggcr-test-image-uid185992.tar"));
    assertTrue(ggcr.stream().anyMatch(e -> e.endsWith(":185992:5000")), ggcr::toString);
    // busybox OCI layout: home owned by 65534
    List<String> busybox = entries(TestData.file("images/busybox-1.38.0-glibc-oci"));
    assertTrue(busybox.stream().anyMatch(e -> e.endsWith(":home:65534:65534")), "busybox home");
    assertEquals(
        1, entries(TestData.file("images/dive-test-oci-zstd-image.tar")).size(), "zstd OCI");
    assertEquals(451, entries(TestData.file("images/dive-test-docker-image.tar")).size());
    List<String> cirros = entries(TestData.file("layers/cirros-0.5.3-rootfs-x86_64.tar.xz"));
    assertTrue(cirros.stream().anyMatch(e -> e.contains(":home/cirros:1000:1000")));
    List<String> alpine = entries(TestData.file("layers/alpine-minirootfs-3.20.3-x86_64.tar.gz"));
    assertTrue(alpine.stream().anyMatch(e -> e.endsWith(":etc/shadow:0:42")));
  }
}
