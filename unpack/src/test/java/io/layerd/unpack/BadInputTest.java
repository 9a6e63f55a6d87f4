package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Truncated, corrupt or substituted layers: each is one clear error naming the layer (and, where it
 * helps, the byte offset), and applied through {@link Staging#into} it leaves neither the
 * destination nor a staging directory behind.
 */
class BadInputTest {
  @TempDir Path tmp;

  static final String NAME = "sha256:feedface-layer";

  static TarBuilder layer() {
    return TarBuilder.create()
        .dir("etc/")
        .file("etc/hostname", "box\n")
        .file("bin/tool", 40_000)
        .mode(0755)
        .symlink("bin/alias", "tool")
        .dir("var/empty/")
        .file("var/empty/.keep", "");
  }

  /** Applies through Staging.into a fresh destination; returns the failure. */
  LayerApplyException failsStaged(byte[] blob, LayerApplier.Expect expect) throws IOException {
    Path parent = Files.createDirectories(tmp.resolve("p" + System.nanoTime()));
    Path dest = parent.resolve("dest");
    LayerApplyException e =
        assertThrows(
            LayerApplyException.class,
            () ->
                Staging.into(
                    dest,
                    fd ->
                        LayerApplier.builder()
                            .build()
                            .apply(NAME, new ByteArrayInputStream(blob), fd, expect)),
            "a bad layer was applied");
    assertTrue(e.getMessage().startsWith("layer " + NAME), e.getMessage());
    assertEquals(NAME, e.layer());
    assertTrue(
        !Files.exists(dest, LinkOption.NOFOLLOW_LINKS),
        "a half-made destination was left: " + dest);
    try (Stream<Path> left = Files.list(parent)) {
      List<Path> l = left.toList();
      assertEquals(List.of(), l, "the staging directory was left behind");
    }
    return e;
  }

  LayerApplyException failsStaged(byte[] blob) throws IOException {
    return failsStaged(blob, LayerApplier.Expect.NOTHING);
  }

  /** Offsets to cut at: every block boundary, a spread inside blocks, the first and last bytes. */
  static java.util.SortedSet<Integer> cuts(int length, int step) {
    java.util.SortedSet<Integer> out = new TreeSet<>();
    for (int i = 0; i < length; i += step) {
      out.add(i);
    }
    for (int i = 0; i < length; i += 512) {
      out.add(i);
      out.add(Math.min(length - 1, i + 1));
    }
    for (int i = 1; i <= 16 && i < length; i++) {
      out.add(length - i);
      out.add(i);
    }
    out.remove(length);
    return out;
  }

  @Test
  void aTarCutAnywhereIsRefused() throws IOException {
    byte[] tar = layer().build();
    int complete = tar.length - 512; // one zero block still ends an archive whole
    for (int cut : cuts(tar.length, 97)) {
      if (cut == complete) {
        continue;
      }
      LayerApplyException e = failsStaged(Arrays.copyOf(tar, cut));
      assertTrue(
          e.getMessage().contains("end") || e.getMessage().contains("truncated"),
          "cut at " + cut + ": " + e.getMessage());
    }
  }

  @Test
  void aGzipCutAnywhereIsRefused() throws IOException {
    byte[] gz = layer().gzip();
    for (int cut : cuts(gz.length, 53)) {
      LayerApplyException e = failsStaged(Arrays.copyOf(gz, cut));
      assertTrue(
          cut < 2 // no longer gzip by its magic: a tar cut short
              || e.getMessage().contains("the gzip stream is corrupt or cut short"),
          "cut at " + cut + ": " + e.getMessage());
    }
  }

  @Test
  void otherCompressionsCutShortAreRefused() throws IOException {
    for (byte[] blob : List.of(layer().zstd(), layer().xz(), layer().bzip2())) {
      for (int cut : new int[] {4, 7, 10, blob.length / 2, blob.length - 1}) {
        failsStaged(Arrays.copyOf(blob, cut));
      }
    }
  }

  @Test
  void aCorruptGzipIsRefused() throws IOException {
    byte[] gz = layer().gzip();
    for (int at : new int[] {3, 10, gz.length / 3, gz.length / 2, gz.length - 6, gz.length - 2}) {
      byte[] bad = gz.clone();
      bad[at] ^= 0x5a;
      failsStaged(bad);
    }
  }

  @Test
  void aCorruptHeaderNamesItsOffset() throws IOException {
    byte[] tar = layer().build();
    tar[512 + 100] ^= 0x11; // the mode field of the second entry's header
    LayerApplyException e = failsStaged(tar);
    assertTrue(e.getMessage().contains("at byte 512"), e.getMessage());
  }

  @Test
  void aWrongDiffIdOrDigestIsRefused() throws IOException {
    byte[] gz = layer().gzip();
    String wrong = "sha256:" + "0".repeat(64);
    LayerApplyException e = failsStaged(gz, new LayerApplier.Expect(null, wrong));
    assertTrue(e.getMessage().contains("diffID mismatch"), e.getMessage());
    assertTrue(e.getMessage().contains(wrong), e.getMessage());
    e = failsStaged(gz, new LayerApplier.Expect(wrong, null));
    assertTrue(e.getMessage().contains("digest mismatch"), e.getMessage());
  }

  @Test
  void aPaxHeaderOverTheLimitAndAnAbsurdPath() throws IOException {
    byte[] big = new byte[TarReader.MAX_SPECIAL_SIZE + 1];
    Arrays.fill(big, (byte) 'x');
    LayerApplyException e = failsStaged(layer().file("f", "").pax("comment", big).build());
    assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
    assertTrue(e.getMessage().contains("at byte "), e.getMessage());
    e = failsStaged(layer().file("a/".repeat(40_000), "").build());
    assertTrue(e.getMessage().contains("an entry name of 80000 bytes"), e.getMessage());
  }

  @Test
  void garbageIsRefused() throws IOException {
    byte[] text = "<html>not a layer</html>\n".repeat(100).getBytes(StandardCharsets.UTF_8);
    failsStaged(text);
    failsStaged(new byte[] {0x1f, (byte) 0x8b});
    failsStaged(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3});
  }

  /** The error of a failing entry names it. */
  @Test
  void aFailingEntryIsNamed() throws IOException {
    LayerApplyException e = failsStaged(TarBuilder.create().hardlink("lost", "nowhere").build());
    assertTrue(e.getMessage().contains("'lost'"), e.getMessage());
    assertTrue(e.getMessage().contains("nowhere"), e.getMessage());
  }

  @Test
  void aGoodLayerThroughStagingAppears() throws IOException {
    Path dest = tmp.resolve("good");
    ApplyResult r =
        Staging.into(
            dest,
            fd ->
                LayerApplier.builder()
                    .build()
                    .apply(
                        NAME,
                        new ByteArrayInputStream(layer().gzip()),
                        fd,
                        LayerApplier.Expect.NOTHING));
    assertEquals(6, r.entries());
    assertEquals("box\n", Files.readString(dest.resolve("etc/hostname")));
    try (Stream<Path> left = Files.list(tmp)) {
      assertEquals(new ArrayList<>(List.of(dest)), new ArrayList<>(left.toList()));
    }
  }
}
