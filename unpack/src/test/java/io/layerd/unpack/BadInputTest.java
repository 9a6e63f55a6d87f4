package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.internal.Staging;
import io.layerd.unpack.internal.TarReader;
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

  /** Applies through Staging.into {@code dest}, which must not exist. */
  static ApplyResult appliesStaged(byte[] blob, Path dest) throws IOException {
    return Staging.into(
        dest,
        fd ->
            LayerApplier.builder()
                .build()
                .apply(NAME, new ByteArrayInputStream(blob), fd, LayerApplier.Expect.NOTHING));
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

  /**
   * Issue 14, item 5: one rule for bytes after the compressed data (refused, as containerd does),
   * and a message naming that cause, never the entry the decoder had run ahead of.
   */
  @Test
  void junkAfterTheCompressedLayerIsRefusedNamingTheCause() throws IOException {
    TarBuilder big = TarBuilder.create();
    for (int i = 0; i < 400; i++) {
      big.file(String.format("etc/f%04d", i), 2000 + i);
    }
    byte[] junk = "this is not compressed data at all".getBytes(StandardCharsets.US_ASCII);
    for (String format : List.of("gzip", "zstd")) {
      byte[] compressed = format.equals("gzip") ? big.gzip() : big.zstd();
      LayerApplyException e = failsStaged(concat(compressed, junk));
      assertEquals(null, e.entry(), format + ": " + e.getMessage());
      assertTrue(
          e.getMessage()
              .contains(
                  "the " + format + " data ends at byte " + compressed.length + " of the layer"),
          e.getMessage());
      assertTrue(e.getMessage().contains("trailing garbage"), e.getMessage());
      assertFalse(e.getMessage().contains("entry '"), e.getMessage());
    }
    // Bytes after the tar's end-of-archive inside the compressed data are the tar's: accepted.
    byte[] tail = big.trailingData(junk).gzip();
    Path dest = tmp.resolve("tail");
    appliesStaged(tail, dest);
    assertTrue(Files.exists(dest.resolve("etc/f0399")));
  }

  /**
   * xz and bzip2 as precise as gzip and zstd: bytes after the last stream are trailing garbage (the
   * byte where the data ends, how many follow), a layer that ends inside a stream is cut short, and
   * damaged data is corrupt; each one message naming the layer, the codec's word after it.
   */
  @Test
  void xzAndBzip2SayTrailingGarbageCutShortOrCorrupt() throws IOException {
    byte[] junk = "this is not compressed data at all".getBytes(StandardCharsets.US_ASCII);
    for (String format : List.of("xz", "bzip2")) {
      byte[] compressed = format.equals("xz") ? layer().xz() : layer().bzip2();
      LayerApplyException e = failsStaged(concat(compressed, junk));
      assertEquals(null, e.entry(), format + ": " + e.getMessage());
      assertTrue(
          e.getMessage()
              .contains(
                  "the "
                      + format
                      + " data ends at byte "
                      + compressed.length
                      + " of the layer, and what follows ("
                      + junk.length
                      + " bytes) is not another "
                      + format
                      + " stream"),
          e.getMessage());
      assertTrue(e.getMessage().contains("trailing garbage"), e.getMessage());
      assertTrue(e.getMessage().contains("head -c " + compressed.length), e.getMessage());

      for (int cut : new int[] {10, compressed.length / 2, compressed.length - 1}) {
        e = failsStaged(Arrays.copyOf(compressed, cut));
        assertTrue(
            e.getMessage()
                .contains(
                    "the "
                        + format
                        + " stream is cut short: the layer ends after "
                        + cut
                        + " bytes"),
            format + " cut at " + cut + ": " + e.getMessage());
      }

      byte[] bad = compressed.clone();
      bad[compressed.length / 2] ^= 0x5a;
      e = failsStaged(bad);
      assertTrue(
          e.getMessage()
              .matches(
                  "(?s).*the "
                      + format
                      + " stream is corrupt at or before byte \\d+ of the layer.*"),
          format + ": " + e.getMessage());
    }
  }

  /**
   * Streams one after another are one layer, as xz -d and bzip2 -d read them (and GNU tar through
   * them): the second stream's entries are applied; xz's stream padding is skipped.
   */
  @Test
  void concatenatedXzAndBzip2StreamsAreOneLayer() throws IOException {
    TarBuilder first = TarBuilder.create().file("a/one", "1");
    TarBuilder whole = TarBuilder.create().file("a/one", "1").file("b/two", 30_000);
    byte[] tar = whole.build();
    byte[] head = first.build();
    int cut = head.length - 1024; // the first entry's blocks, without the end-of-archive
    byte[] part1 = Arrays.copyOf(tar, cut);
    byte[] part2 = Arrays.copyOfRange(tar, cut, tar.length);
    for (String format : List.of("xz", "bzip2")) {
      byte[] a = compress(format, part1);
      byte[] b = compress(format, part2);
      byte[] padding = format.equals("xz") ? new byte[8] : new byte[0];
      byte[] blob = concat(concat(concat(a, padding), b), padding);
      Path dest = tmp.resolve("cat-" + format);
      ApplyResult r = appliesStaged(blob, dest);
      assertEquals(30_000, Files.size(dest.resolve("b/two")), format);
      assertEquals(blob.length, r.digests().compressedSize(), format);
      assertEquals(tar.length, r.digests().uncompressedSize(), format);
    }
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static byte[] compress(String format, byte[] data) throws IOException {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.OutputStream out =
        format.equals("xz")
            ? new org.tukaani.xz.XZOutputStream(bytes, new org.tukaani.xz.LZMA2Options())
            : new org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream(
                bytes)) {
      out.write(data);
    }
    return bytes.toByteArray();
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

  /** Issue 14, item 6: random input reported "stored -4323753931486559854". */
  @Test
  void randomInputSaysWhatIsWrongWithTheHeader() throws IOException {
    java.util.Random random = new java.util.Random(14);
    for (int i = 0; i < 200; i++) {
      byte[] noise = new byte[1024];
      random.nextBytes(noise);
      noise[0] = 'x'; // not a compression's magic bytes
      if (i % 2 == 0) {
        noise[148] |= (byte) 0x80; // a base-256 checksum field
      }
      LayerApplyException e = failsStaged(noise);
      assertFalse(e.getMessage().matches("(?s).*stored -?\\d.*"), e.getMessage());
      assertTrue(
          e.getMessage().contains("checksum field holds no octal number")
              || e.getMessage().contains("header checksum field is not an octal number")
              || e.getMessage().contains("header checksum mismatch"),
          e.getMessage());
    }
  }

  /** Issue 14, item 6: "the stream ends inside an entry's data" named no entry. */
  @Test
  void aTarCutInsideAnEntrysDataNamesTheEntry() throws IOException {
    byte[] tar = TarBuilder.create().file("etc/a", "a").file("bin/tool", 40_000).build();
    LayerApplyException e = failsStaged(Arrays.copyOf(tar, 512 * 3 + 10_000));
    assertTrue(
        e.getMessage()
            .contains(
                "the stream ends inside the data of entry 'bin/tool' (10000 of its 40000 bytes"
                    + " present)"),
        e.getMessage());
  }

  /** Issue 14, item 6: a 60,000-byte path gave a 120 KB one-line error, the path twice. */
  @Test
  void aLongNameIsShortenedAndPrintedOnce() throws IOException {
    // Components over NAME_MAX (255 bytes), which no filesystem takes (a path longer than
    // PATH_MAX is applied, in pieces).
    String component = "d".repeat(256);
    String longName = (component + "/").repeat(234) + "f";
    LayerApplyException e = failsStaged(TarBuilder.create().file(longName, "x").build());
    String m = e.getMessage();
    assertTrue(m.length() < 800, m.length() + " characters: " + m);
    assertTrue(m.contains("…"), m);
    assertTrue(m.contains("(" + longName.length() + " characters)"), m);
    int first = m.indexOf("entry '");
    assertTrue(first >= 0, m);
    assertEquals(-1, m.indexOf("entry '", first + 1), m);
    assertEquals(1, count(m, "(" + longName.length() + " characters)"), m);
    assertEquals(1, count(m, " characters)"), "the path once: " + m);
  }

  private static int count(String s, String part) {
    int n = 0;
    for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
      n++;
    }
    return n;
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
    ApplyResult r = appliesStaged(layer().gzip(), dest);
    assertEquals(6, r.counts().entries());
    assertEquals("box\n", Files.readString(dest.resolve("etc/hostname")));
    try (Stream<Path> left = Files.list(tmp)) {
      assertEquals(new ArrayList<>(List.of(dest)), new ArrayList<>(left.toList()));
    }
  }
}
