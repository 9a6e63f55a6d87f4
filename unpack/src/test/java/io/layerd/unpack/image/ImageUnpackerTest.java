package io.layerd.unpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.LayerApplyException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image unpacking on images built in code: selection, verification, hostile input. */
class ImageUnpackerTest {
  @TempDir Path tmp;

  private static final ImageUnpacker DEFAULT = ImageUnpacker.builder().build();

  private static byte[] layerWith(String name, String content) {
    return TarBuilder.create().file(name, content).build();
  }

  private static String read(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.UTF_8);
  }

  /** Nothing but the given names in the directory: no DEST, no staging directory left. */
  private static void assertOnly(Path dir, String... names) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(
          List.of(names).stream().sorted().toList(),
          s.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  // ------------------------------------------------------------------ platforms

  private Path multiPlatform(Path dir, boolean nested) throws IOException {
    TestImages.Layout l = new TestImages.Layout(dir);
    ObjectNode amd = l.image("linux/amd64", layerWith("arch", "amd64"));
    ObjectNode arm64 = l.image("linux/arm64/v8", layerWith("arch", "arm64"));
    ObjectNode arm = l.image("linux/arm/v7", layerWith("arch", "arm"));
    ObjectNode attestation = l.image("unknown/unknown", layerWith("attestation", "{}"));
    if (nested) {
      l.add(l.nestedIndex(amd, arm64, arm, attestation), "multi:1");
    } else {
      l.add(amd, "multi:1").add(arm64, "multi:1").add(arm, "multi:1").add(attestation, "multi:1");
    }
    return l.write();
  }

  @Test
  void multiPlatformIndexPicksThisMachine() throws IOException {
    for (boolean nested : new boolean[] {false, true}) {
      Path image = multiPlatform(tmp.resolve("img-" + nested), nested);
      Path dest = tmp.resolve("dest-" + nested);
      ImageResult r = DEFAULT.unpack(image, dest);
      Platform here = Platform.current();
      String expected = here.architecture();
      if (List.of("amd64", "arm64", "arm").contains(expected)) {
        assertEquals(expected, read(dest.resolve("arch")));
        assertEquals(here.architecture(), r.platform().architecture());
      }
      assertEquals("multi:1", r.refName());
      assertEquals(ImageResult.OCI_LAYOUT, r.format());
      assertFalse(Files.exists(dest.resolve("attestation")));
    }
  }

  @Test
  void platformChoosesTheManifest() throws IOException {
    Path image = multiPlatform(tmp.resolve("img"), true);
    String[][] cases = {
      {"linux/arm64", "arm64"},
      {"linux/arm64/v8", "arm64"},
      {"linux/aarch64", "arm64"},
      {"linux/arm/v7", "arm"},
      {"linux/arm", "arm"},
      {"linux/amd64", "amd64"},
      {"linux/x86_64", "amd64"}
    };
    int i = 0;
    for (String[] c : cases) {
      Path dest = tmp.resolve("dest" + i++);
      ImageResult r =
          ImageUnpacker.builder().platform(Platform.parse(c[0])).build().unpack(image, dest);
      assertEquals(c[1], read(dest.resolve("arch")), c[0]);
      assertEquals(c[1], r.platform().architecture());
    }
  }

  @Test
  void missingPlatformListsTheAvailableOnes() throws IOException {
    Path image = multiPlatform(tmp.resolve("img"), false);
    Path dest = tmp.resolve("dest");
    for (String p : List.of("linux/riscv64", "linux/arm/v6", "windows/amd64")) {
      ImageException e =
          assertThrows(
              ImageException.class,
              () ->
                  ImageUnpacker.builder().platform(Platform.parse(p)).build().unpack(image, dest));
      assertTrue(e.getMessage().contains("no manifest for the platform " + p), e.getMessage());
      assertTrue(
          e.getMessage().contains("linux/amd64, linux/arm64/v8, linux/arm/v7"), e.getMessage());
      assertFalse(e.getMessage().contains("unknown"), e.getMessage());
    }
    assertOnly(tmp, "img");
  }

  @Test
  void platformParsing() {
    assertEquals(new Platform("linux", "arm64", "v8"), Platform.parse("linux/arm64/v8"));
    assertEquals(new Platform("linux", "amd64", null), Platform.parse("Linux/x86_64"));
    assertEquals("linux/arm/v7", Platform.parse("linux/arm/v7").toString());
    for (String bad : List.of("linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64")) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> Platform.parse(bad));
      assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
    }
    assertTrue(Platform.parse("linux/arm64").matches(new Platform("linux", "arm64", "v8")));
    assertTrue(Platform.parse("linux/arm64/v8").matches(new Platform("linux", "arm64", null)));
    assertTrue(Platform.parse("linux/arm").matches(new Platform("linux", "arm", "v7")));
    assertFalse(Platform.parse("linux/arm/v6").matches(new Platform("linux", "arm", "v7")));
    assertFalse(Platform.parse("linux/arm64").matches(new Platform("linux", "amd64", null)));
  }

  @Test
  void singleForeignPlatformIsUnpackedWithAWarning() throws IOException {
    String other = Platform.current().architecture().equals("s390x") ? "ppc64le" : "s390x";
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    Path image = l.add(l.image("linux/" + other, layerWith("f", "x")), null).write();
    ImageResult r = DEFAULT.unpack(image, tmp.resolve("dest"));
    assertEquals("x", read(tmp.resolve("dest/f")));
    assertEquals(1, r.warnings().size(), r.warnings().toString());
    assertTrue(r.warnings().get(0).contains("linux/" + other), r.warnings().toString());
    // Asked for explicitly, this machine's platform is not there.
    ImageException e =
        assertThrows(
            ImageException.class,
            () ->
                ImageUnpacker.builder()
                    .platform(Platform.current())
                    .build()
                    .unpack(image, tmp.resolve("dest2")));
    assertTrue(e.getMessage().contains("the image has linux/" + other), e.getMessage());
  }

  // ------------------------------------------------------------------ ref names

  private Path twoImages() throws IOException {
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    l.add(l.image("linux/amd64", layerWith("name", "a")), "a:1");
    l.add(l.image("linux/amd64", layerWith("name", "b")), "b:2");
    return l.write();
  }

  @Test
  void severalImagesNeedARef() throws IOException {
    Path image = twoImages();
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(image, tmp.resolve("d")));
    assertTrue(e.getMessage().contains("several images: 'a:1', 'b:2'"), e.getMessage());
    e =
        assertThrows(
            ImageException.class,
            () -> ImageUnpacker.builder().ref("c:3").build().unpack(image, tmp.resolve("d")));
    assertTrue(e.getMessage().contains("no image is named 'c:3'"), e.getMessage());
    assertTrue(e.getMessage().contains("'a:1', 'b:2'"), e.getMessage());
    assertOnly(tmp, "img");

    ImageResult r =
        ImageUnpacker.builder()
            .ref("b:2")
            .platform(Platform.parse("linux/amd64"))
            .build()
            .unpack(image, tmp.resolve("d"));
    assertEquals("b", read(tmp.resolve("d/name")));
    assertEquals("b:2", r.refName());
  }

  /** docker save (25+) writes an OCI layout whose ref names are bare tags, full names aside. */
  @Test
  void sameTagInSeveralRepositories() throws IOException {
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    l.add(l.image("linux/amd64", layerWith("name", "a")), "latest", "docker.io/library/a:latest");
    l.add(l.image("linux/amd64", layerWith("name", "b")), "latest", "docker.io/library/b:latest");
    Path image = l.write();
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(image, tmp.resolve("d")));
    assertTrue(
        e.getMessage()
            .contains("several images: 'docker.io/library/a:latest', 'docker.io/library/b:latest'"),
        e.getMessage());
    e =
        assertThrows(
            ImageException.class,
            () -> ImageUnpacker.builder().ref("latest").build().unpack(image, tmp.resolve("d")));
    assertTrue(e.getMessage().contains("several images are named 'latest'"), e.getMessage());
    ImageUnpacker.builder()
        .ref("docker.io/library/b:latest")
        .build()
        .unpack(image, tmp.resolve("d"));
    assertEquals("b", read(tmp.resolve("d/name")));
  }

  // ------------------------------------------------------------------ verification

  @Test
  void layerDigestMismatchNamesTheLayerAndLeavesNoDest() throws IOException {
    byte[] good = layerWith("f", "good");
    byte[] evil = layerWith("f", "evil"); // the same size, other bytes
    assertEquals(good.length, evil.length);
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    ObjectNode d = l.image("linux/amd64", layerWith("base", "1"), good);
    Path image = l.add(d, null).write();
    // Substitute the second layer's blob with other bytes of the same size.
    String goodDigest = TestImages.sha256(TarBuilder.gzip(good));
    byte[] evilBlob = TarBuilder.gzip(evil);
    Path blob = image.resolve("blobs/sha256/" + goodDigest.substring(7));
    assertEquals(Files.size(blob), evilBlob.length);
    Files.write(blob, evilBlob);

    Path parent = Files.createDirectory(tmp.resolve("out"));
    LayerApplyException e =
        assertThrows(
            LayerApplyException.class,
            () ->
                ImageUnpacker.builder()
                    .platform(Platform.parse("linux/amd64"))
                    .build()
                    .unpack(image, parent.resolve("dest")));
    String m = e.getMessage();
    assertTrue(m.startsWith("layer 2/2 " + goodDigest + ": digest mismatch"), m);
    assertTrue(m.contains("expected " + goodDigest), m);
    assertTrue(m.contains(TestImages.sha256(evilBlob)), m);
    assertEquals("2/2 " + goodDigest, e.layer());
    assertOnly(parent);
  }

  @Test
  void diffIdMismatchNamesTheLayer() throws IOException {
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    byte[] tar = layerWith("f", "x");
    byte[] blob = TarBuilder.gzip(tar);
    String wrong = TestImages.sha256(layerWith("f", "y"));
    ObjectNode m = TestImages.object();
    m.put("schemaVersion", 2);
    m.put("mediaType", OciLayout.OCI_MANIFEST);
    m.set(
        "config",
        l.descriptor(
            OciLayout.OCI_CONFIG, TestImages.config("linux", "amd64", null, List.of(wrong))));
    ObjectNode layer = l.descriptor(TestImages.LAYER_GZIP, blob);
    m.putArray("layers").add(layer);
    Path image = l.add(l.descriptor(OciLayout.OCI_MANIFEST, TestImages.json(m)), null).write();
    Path parent = Files.createDirectory(tmp.resolve("out"));
    LayerApplyException e =
        assertThrows(LayerApplyException.class, () -> DEFAULT.unpack(image, parent.resolve("d")));
    assertTrue(e.getMessage().contains("diffID mismatch: expected " + wrong), e.getMessage());
    assertTrue(e.getMessage().contains(TestImages.sha256(tar)), e.getMessage());
    assertTrue(e.getMessage().startsWith("layer 1/1 " + layer.get("digest").asText()));
    assertOnly(parent);
  }

  @Test
  void sizeAndManifestMismatchesAreRefusedBeforeWriting() throws IOException {
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    ObjectNode d = l.image("linux/amd64", layerWith("f", "x"));
    // The manifest descriptor's size is off by one: refused as a size mismatch.
    ObjectNode wrongSize = d.deepCopy();
    wrongSize.put("size", d.get("size").asLong() + 1);
    Path image = l.add(wrongSize, null).write();
    Path parent = Files.createDirectory(tmp.resolve("out"));
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(image, parent.resolve("d")));
    assertTrue(e.getMessage().contains("size mismatch"), e.getMessage());
    assertOnly(parent);

    // A layer descriptor whose size is wrong.
    TestImages.Layout l2 = new TestImages.Layout(tmp.resolve("img2"));
    byte[] blob = TarBuilder.gzip(layerWith("f", "x"));
    ObjectNode m = TestImages.object();
    m.put("schemaVersion", 2);
    m.set(
        "config",
        l2.descriptor(
            OciLayout.OCI_CONFIG,
            TestImages.config(
                "linux", "amd64", null, List.of(TestImages.sha256(layerWith("f", "x"))))));
    ObjectNode layer = l2.descriptor(TestImages.LAYER_GZIP, blob);
    layer.put("size", blob.length - 1);
    m.putArray("layers").add(layer);
    Path image2 = l2.add(l2.descriptor(OciLayout.OCI_MANIFEST, TestImages.json(m)), null).write();
    e = assertThrows(ImageException.class, () -> DEFAULT.unpack(image2, parent.resolve("d")));
    assertTrue(e.getMessage().contains("layer 1/1 sha256:"), e.getMessage());
    assertTrue(
        e.getMessage().contains("size mismatch: the manifest says " + (blob.length - 1)),
        e.getMessage());
    assertOnly(parent);
  }

  // ------------------------------------------------------------------ docker-save

  /** A docker-save archive in the newer form: blobs/sha256/... and legacy symlinked paths. */
  private Path dockerSave(boolean legacySymlinks, String... tags) throws IOException {
    byte[] l1 = TarBuilder.create().dir("etc/").file("etc/a", "1").file("etc/b", "2").build();
    byte[] l2 = TarBuilder.create().whiteout("etc/a").file("etc/c", "3").build();
    String d1 = TestImages.sha256(l1);
    String d2 = TestImages.sha256(l2);
    byte[] config = TestImages.config("linux", "amd64", null, List.of(d1, d2));
    String dc = TestImages.sha256(config);
    TarBuilder t = TarBuilder.create();
    t.file("blobs/sha256/" + d1.substring(7), l1);
    t.file("blobs/sha256/" + d2.substring(7), l2);
    t.file("blobs/sha256/" + dc.substring(7), config);
    ObjectNode entry = TestImages.object();
    entry.put("Config", "blobs/sha256/" + dc.substring(7));
    ArrayNode repoTags = entry.putArray("RepoTags");
    for (String tag : tags) {
      repoTags.add(tag);
    }
    ArrayNode layers = entry.putArray("Layers");
    if (legacySymlinks) {
      t.symlink("aaa/layer.tar", "../blobs/sha256/" + d1.substring(7));
      t.symlink("bbb/layer.tar", "../blobs/sha256/" + d2.substring(7));
      layers.add("aaa/layer.tar").add("./bbb//layer.tar");
    } else {
      layers.add("blobs/sha256/" + d1.substring(7)).add("blobs/sha256/" + d2.substring(7));
    }
    ArrayNode manifest = TestImages.object().arrayNode().add(entry);
    t.file("manifest.json", TestImages.json(manifest));
    Path out = tmp.resolve("save-" + legacySymlinks + ".tar");
    t.writeTo(out);
    return out;
  }

  @Test
  void dockerSaveWithBlobPathsAndLinkedMembers() throws IOException {
    for (boolean legacy : new boolean[] {false, true}) {
      Path dest = tmp.resolve("d-" + legacy);
      ImageResult r = DEFAULT.unpack(dockerSave(legacy, "x:1"), dest);
      assertEquals(ImageResult.DOCKER_SAVE, r.format());
      assertEquals("x:1", r.refName());
      assertEquals(2, r.layers().size());
      assertFalse(Files.exists(dest.resolve("etc/a")));
      assertEquals("2", read(dest.resolve("etc/b")));
      assertEquals("3", read(dest.resolve("etc/c")));
      // blobs/sha256/HEX names its digest: it was checked.
      assertTrue(r.layers().get(0).digests().digest().equals(r.layers().get(0).digests().diffId()));
      assertTrue(r.configDigest().startsWith("sha256:"));
    }
  }

  @Test
  void dockerSaveSeveralImagesNeedARef() throws IOException {
    Path one = dockerSave(false, "x:1", "x:latest");
    ImageResult r = ImageUnpacker.builder().ref("x").build().unpack(one, tmp.resolve("d"));
    assertEquals("x", r.refName());
    ImageException e =
        assertThrows(
            ImageException.class,
            () -> ImageUnpacker.builder().ref("y:1").build().unpack(one, tmp.resolve("e")));
    assertTrue(e.getMessage().contains("no image is tagged 'y:1'; it holds x:1 x:latest"));
  }

  @Test
  void dockerSaveWithCompressedLayers() throws IOException {
    byte[] l1 = TarBuilder.create().file("a", "1").build();
    byte[] l2 = TarBuilder.create().file("b", "2").build();
    byte[] config =
        TestImages.config(
            "linux", "amd64", null, List.of(TestImages.sha256(l1), TestImages.sha256(l2)));
    ObjectNode entry = TestImages.object();
    entry.put("Config", "c.json");
    entry.putArray("Layers").add("1/layer.tar.gz").add("2/layer.tar.zst");
    Path image = tmp.resolve("compressed.tar");
    TarBuilder.create()
        .file("c.json", config)
        .file("1/layer.tar.gz", TarBuilder.gzip(l1))
        .file("2/layer.tar.zst", TarBuilder.create().file("b", "2").zstd())
        .file("manifest.json", TestImages.json(TestImages.object().arrayNode().add(entry)))
        .writeTo(image);
    ImageResult r = DEFAULT.unpack(image, tmp.resolve("d"));
    assertEquals("1", read(tmp.resolve("d/a")));
    assertEquals("2", read(tmp.resolve("d/b")));
    assertEquals("GZIP", r.layers().get(0).digests().compression().name());
    assertEquals("ZSTD", r.layers().get(1).digests().compression().name());
    assertEquals(null, r.configDigest(), "c.json does not name its digest");
  }

  @Test
  void compressedArchiveIsRefusedClearly() throws IOException {
    Path plain = dockerSave(false, "x:1");
    Path gz = tmp.resolve("image.tar.gz");
    Files.write(gz, TarBuilder.gzip(Files.readAllBytes(plain)));
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(gz, tmp.resolve("d")));
    assertTrue(e.getMessage().contains("gzip-compressed"), e.getMessage());
  }

  // ------------------------------------------------------------------ hostile paths

  private Path saveWithPaths(String config, String layer, TarBuilder extra) throws IOException {
    byte[] l1 = TarBuilder.create().file("f", "x").build();
    byte[] cfg = TestImages.config("linux", "amd64", null, List.of(TestImages.sha256(l1)));
    TarBuilder t = extra == null ? TarBuilder.create() : extra;
    t.file("config.json", cfg).file("l/layer.tar", l1);
    ObjectNode entry = TestImages.object();
    entry.put("Config", config);
    entry.putArray("Layers").add(layer);
    t.file("manifest.json", TestImages.json(TestImages.object().arrayNode().add(entry)));
    Path out = tmp.resolve("hostile.tar");
    t.writeTo(out);
    return out;
  }

  @Test
  void hostileBlobPathsAreRefused() throws IOException {
    Path parent = Files.createDirectory(tmp.resolve("out"));
    Path dest = parent.resolve("dest");
    String[][] cases = {
      {"config.json", "../../etc/passwd", "climbs out of the image"},
      {"config.json", "l/../../etc/passwd", "climbs out of the image"},
      {"config.json", "/etc/passwd", "is an absolute path"},
      {"../config.json", "l/layer.tar", "climbs out of the image"},
      {"/etc/os-release", "l/layer.tar", "is an absolute path"},
      {"config.json", "", "is empty"},
    };
    for (String[] c : cases) {
      Path image = saveWithPaths(c[0], c[1], null);
      ImageException e = assertThrows(ImageException.class, () -> DEFAULT.unpack(image, dest));
      assertTrue(e.getMessage().contains(c[2]), c[0] + " " + c[1] + ": " + e.getMessage());
      assertOnly(parent);
    }
    // A member that is a symlink out of the archive, relative or absolute.
    for (String target : List.of("../../../../etc/passwd", "/etc/passwd")) {
      Path image =
          saveWithPaths(
              "config.json",
              "evil/layer.tar",
              TarBuilder.create().symlink("evil/layer.tar", target));
      ImageException e = assertThrows(ImageException.class, () -> DEFAULT.unpack(image, dest));
      assertTrue(e.getMessage().contains("evil/layer.tar is a symlink"), e.getMessage());
      assertOnly(parent);
    }
  }

  @Test
  void hostileDigestsAndLinksInALayoutAreRefused() throws IOException {
    Path parent = Files.createDirectory(tmp.resolve("out"));
    TestImages.Layout l = new TestImages.Layout(tmp.resolve("img"));
    ObjectNode d = l.image("linux/amd64", layerWith("f", "x"));
    ObjectNode evil = d.deepCopy();
    evil.put("digest", "sha256:../../../../etc/passwd");
    Path image = l.add(evil, null).write();
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(image, parent.resolve("d")));
    assertTrue(e.getMessage().contains("malformed digest"), e.getMessage());

    // A blob that is a symlink to a file outside the layout resolves inside it: not found.
    TestImages.Layout l2 = new TestImages.Layout(tmp.resolve("img2"));
    ObjectNode d2 = l2.image("linux/amd64", layerWith("f", "x"));
    Path image2 = l2.add(d2, null).write();
    Path manifest = image2.resolve("blobs/sha256/" + d2.get("digest").asText().substring(7));
    Path outside = tmp.resolve("outside-manifest.json");
    Files.move(manifest, outside);
    Files.createSymbolicLink(manifest, outside);
    e = assertThrows(ImageException.class, () -> DEFAULT.unpack(image2, parent.resolve("d")));
    assertTrue(e.getMessage().contains("is missing"), e.getMessage());
    assertOnly(parent);
  }

  @Test
  void notAnImage() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("empty"));
    ImageException e =
        assertThrows(ImageException.class, () -> DEFAULT.unpack(dir, tmp.resolve("d")));
    assertTrue(e.getMessage().contains("neither an OCI image layout"), e.getMessage());
    Path junk = tmp.resolve("junk.tar");
    Files.writeString(junk, "not a tar at all");
    assertThrows(ImageException.class, () -> DEFAULT.unpack(junk, tmp.resolve("d")));
    assertThrows(ImageException.class, () -> DEFAULT.unpack(tmp.resolve("nope"), tmp.resolve("d")));
    assertOnly(tmp, "empty", "junk.tar");
  }
}
