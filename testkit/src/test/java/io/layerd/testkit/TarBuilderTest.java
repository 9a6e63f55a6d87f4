package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdInputStream;
import io.layerd.testkit.TarBuilder.Format;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarUtils;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.XZInputStream;

class TarBuilderTest {
  static final byte[] LATIN1 = {'c', 'a', 'f', (byte) 0xe9};
  static final String LONG_NAME =
      "usr/share/" + "very-long-directory-name-".repeat(4) + "/" + "file-".repeat(20) + "end.txt";

  /** An entry as commons-compress reads it, with its content. */
  @SuppressWarnings("ArrayRecordComponent")
  record Read(TarArchiveEntry entry, byte[] content) {}

  /** Reads an archive with commons-compress, names decoded as ISO-8859-1 (bytes 1:1). */
  static List<Read> read(byte[] tar) throws IOException {
    List<Read> out = new ArrayList<>();
    try (TarArchiveInputStream in =
        new TarArchiveInputStream(new ByteArrayInputStream(tar), "ISO-8859-1")) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.add(new Read(e, in.readAllBytes()));
      }
    }
    return out;
  }

  static byte[] latin1(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** One header block and its data, parsed by hand (to check bytes commons-compress decodes). */
  @SuppressWarnings("ArrayRecordComponent")
  record Block(int offset, char typeflag, byte[] name, byte[] data) {}

  static List<Block> blocks(byte[] tar) {
    List<Block> out = new ArrayList<>();
    int pos = 0;
    while (pos + 512 <= tar.length) {
      byte[] h = Arrays.copyOfRange(tar, pos, pos + 512);
      boolean zero = true;
      for (byte x : h) {
        zero &= x == 0;
      }
      if (zero) {
        break;
      }
      assertTrue(TarUtils.verifyCheckSum(h), "checksum of the header at " + pos);
      int nameEnd = 0;
      while (nameEnd < 100 && h[nameEnd] != 0) {
        nameEnd++;
      }
      long size = TarUtils.parseOctalOrBinary(h, 124, 12);
      char type = (char) h[156];
      boolean hasData = type == '0' || type == 'x' || type == 'g' || type == 'L' || type == 'K';
      int len = hasData ? (int) size : 0;
      out.add(
          new Block(
              pos,
              type,
              Arrays.copyOf(h, nameEnd),
              Arrays.copyOfRange(tar, pos + 512, pos + 512 + len)));
      pos += 512 + (len + 511) / 512 * 512;
    }
    return out;
  }

  /** The records of a PAX header, values as raw bytes. */
  static Map<String, byte[]> paxRecords(byte[] data) {
    Map<String, byte[]> out = new LinkedHashMap<>();
    int pos = 0;
    while (pos < data.length) {
      int sp = pos;
      while (data[sp] != ' ') {
        sp++;
      }
      int len = Integer.parseInt(new String(data, pos, sp - pos, StandardCharsets.US_ASCII));
      int eq = sp + 1;
      while (data[eq] != '=') {
        eq++;
      }
      String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
      assertEquals('\n', data[pos + len - 1], "record ends in a newline");
      out.put(key, Arrays.copyOfRange(data, eq + 1, pos + len - 1));
      pos += len;
    }
    return out;
  }

  @Test
  void everyEntryTypeReadsBack() throws IOException {
    byte[] tar =
        TarBuilder.create()
            .dir("etc/")
            .mode(0700)
            .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .mode(0640)
            .owner(0, 42)
            .uname("root")
            .gname("shadow")
            .mtime(1_234_567_890L)
            .symlink("localetc", "/etc")
            .hardlink("etc/passwd-", "etc/passwd")
            .charDevice("dev/null", 1, 3)
            .mode(0666)
            .blockDevice("dev/loop0", 7, 0)
            .fifo("run/fifo")
            .file("bin/su", new byte[] {1, 2, 3})
            .mode(04755)
            .dir("tmp/")
            .mode(01777)
            .build();
    List<Read> r = read(tar);
    assertEquals(9, r.size());

    TarArchiveEntry d = r.get(0).entry();
    assertEquals("etc/", d.getName());
    assertTrue(d.isDirectory());
    assertEquals(0700, d.getMode());
    assertEquals(TarBuilder.DEFAULT_MTIME, d.getModTime().toInstant().getEpochSecond());

    TarArchiveEntry f = r.get(1).entry();
    assertTrue(f.isFile());
    assertEquals(0640, f.getMode());
    assertEquals(0, f.getLongUserId());
    assertEquals(42, f.getLongGroupId());
    assertEquals("root", f.getUserName());
    assertEquals("shadow", f.getGroupName());
    assertEquals(1_234_567_890L, f.getModTime().toInstant().getEpochSecond());
    assertEquals(
        "root:x:0:0::/root:/bin/sh\n", new String(r.get(1).content(), StandardCharsets.UTF_8));

    assertTrue(r.get(2).entry().isSymbolicLink());
    assertEquals("/etc", r.get(2).entry().getLinkName());
    assertEquals(0777, r.get(2).entry().getMode());
    assertTrue(r.get(3).entry().isLink());
    assertEquals("etc/passwd", r.get(3).entry().getLinkName());
    assertEquals(0, r.get(3).entry().getSize());
    assertTrue(r.get(4).entry().isCharacterDevice());
    assertEquals(1, r.get(4).entry().getDevMajor());
    assertEquals(3, r.get(4).entry().getDevMinor());
    assertEquals(0666, r.get(4).entry().getMode());
    assertTrue(r.get(5).entry().isBlockDevice());
    assertEquals(7, r.get(5).entry().getDevMajor());
    assertTrue(r.get(6).entry().isFIFO());
    assertEquals(04755, r.get(7).entry().getMode());
    assertArrayEquals(new byte[] {1, 2, 3}, r.get(7).content());
    assertEquals(01777, r.get(8).entry().getMode());

    // A PAX archive without anything beyond ustar writes no extended header at all.
    for (Block b : blocks(tar)) {
      assertTrue(
          b.typeflag() != 'x',
          "unexpected PAX header for " + new String(b.name(), StandardCharsets.UTF_8));
    }
    assertEquals(0, tar.length % 512);
  }

  @Test
  void nonUtf8NamesPassByteForByteInEveryFormat() throws IOException {
    for (Format format : Format.values()) {
      byte[] dir = {'d', (byte) 0xff, '/'};
      byte[] target = {'t', (byte) 0xfe};
      byte[] tar =
          TarBuilder.create(format)
              .dir(dir)
              .file(LATIN1, "x")
              .symlink(new byte[] {'l', (byte) 0x80}, target)
              .build();
      List<Read> r = read(tar);
      assertArrayEquals(dir, latin1(r.get(0).entry().getName()), format.toString());
      assertArrayEquals(LATIN1, latin1(r.get(1).entry().getName()), format.toString());
      assertArrayEquals(target, latin1(r.get(2).entry().getLinkName()), format.toString());
      List<Block> b = blocks(tar);
      assertArrayEquals(LATIN1, b.get(1).name(), "the raw header bytes");
    }
  }

  @Test
  void longNamesInEachFormat() throws IOException {
    String longTarget = "../".repeat(40) + "etc/passwd";
    assertTrue(LONG_NAME.length() > 155 && longTarget.length() > 100);
    for (Format format : List.of(Format.PAX, Format.GNU)) {
      byte[] tar =
          TarBuilder.create(format)
              .file(LONG_NAME, "long")
              .symlink(LONG_NAME + ".lnk", longTarget)
              .hardlink("short", LONG_NAME)
              .build();
      List<Read> r = read(tar);
      assertEquals(LONG_NAME, r.get(0).entry().getName(), format.toString());
      assertEquals("long", new String(r.get(0).content(), StandardCharsets.UTF_8));
      assertEquals(LONG_NAME + ".lnk", r.get(1).entry().getName());
      assertEquals(longTarget, r.get(1).entry().getLinkName(), format.toString());
      assertEquals(LONG_NAME, r.get(2).entry().getLinkName(), format.toString());
      List<Character> types = new ArrayList<>();
      for (Block b : blocks(tar)) {
        types.add(b.typeflag());
      }
      if (format == Format.GNU) {
        assertEquals(List.of('L', '0', 'K', 'L', '2', 'K', '1'), types);
        assertArrayEquals(latin1("././@LongLink"), blocks(tar).get(0).name());
        assertEquals(
            "ustar  \0",
            new String(tar, blocks(tar).get(1).offset() + 257, 8, StandardCharsets.ISO_8859_1));
      } else {
        assertEquals(List.of('x', '0', 'x', '2', 'x', '1'), types);
        Map<String, byte[]> rec = paxRecords(blocks(tar).get(0).data());
        assertArrayEquals(latin1(LONG_NAME), rec.get("path"));
        assertEquals(
            "ustar\u000000",
            new String(tar, blocks(tar).get(1).offset() + 257, 8, StandardCharsets.ISO_8859_1));
      }
    }
  }

  @Test
  void ustarSplitsLongNamesIntoThePrefixField() throws IOException {
    String name = "a/" + "p".repeat(120) + "/" + "n".repeat(90);
    byte[] tar = TarBuilder.create(Format.USTAR).file(name, "x").build();
    assertEquals(1, blocks(tar).size(), "no extension header");
    assertEquals("n".repeat(90), new String(blocks(tar).get(0).name(), StandardCharsets.UTF_8));
    assertEquals(
        "a/" + "p".repeat(120), new String(tar, 345, 122, StandardCharsets.UTF_8), "prefix field");
    assertEquals(name, read(tar).get(0).entry().getName());

    // Any format can be asked to use the prefix field, even for a short name.
    byte[] short1 = TarBuilder.create().file("dir/sub/file", "x").ustarPrefix().build();
    assertEquals("file", new String(blocks(short1).get(0).name(), StandardCharsets.UTF_8));
    assertEquals("dir/sub/file", read(short1).get(0).entry().getName());

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TarBuilder.create(Format.USTAR).file("x".repeat(101), "x").build());
    assertTrue(e.getMessage().contains("prefix"), e.getMessage());
  }

  @Test
  void xattrsAndPaxRecordsAreWrittenVerbatim() throws IOException {
    byte[] cap = {1, 0, 0, 2, (byte) 0xc0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    byte[] tar =
        TarBuilder.create()
            .file("bin/ping", "ping")
            .xattr("security.capability", cap)
            .xattr("user.mime", "text/plain")
            .pax("LIBARCHIVE.creationtime", "1")
            .dir("usr/share/")
            .xattr("trusted.overlay.opaque", "y")
            .build();
    List<Block> b = blocks(tar);
    assertEquals('x', b.get(0).typeflag());
    Map<String, byte[]> rec = paxRecords(b.get(0).data());
    assertEquals(
        List.of(
            "SCHILY.xattr.security.capability",
            "SCHILY.xattr.user.mime",
            "LIBARCHIVE.creationtime"),
        new ArrayList<>(rec.keySet()));
    assertArrayEquals(cap, rec.get("SCHILY.xattr.security.capability"), "binary value as is");
    assertTrue(new String(b.get(0).name(), StandardCharsets.UTF_8).startsWith("PaxHeaders/"));

    List<Read> r = read(tar);
    assertEquals(2, r.size(), "commons-compress sees two entries");
    assertEquals("text/plain", r.get(0).entry().getExtraPaxHeader("SCHILY.xattr.user.mime"));
    assertEquals("y", r.get(1).entry().getExtraPaxHeader("SCHILY.xattr.trusted.overlay.opaque"));
    assertEquals("ping", new String(r.get(0).content(), StandardCharsets.UTF_8));

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> TarBuilder.create(Format.USTAR).file("f", "x").xattr("user.a", "b").build());
    assertTrue(e.getMessage().contains("USTAR") && e.getMessage().contains("'f'"), e.getMessage());
  }

  @Test
  void paxRecordLengthsCountThemselves() {
    // 9 bytes of " k=value\n" plus the 2-digit length is 11; 98 + 2 digits = 100 needs 3 digits.
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("k", latin1("value"));
    assertEquals("11 k=value\n", new String(TarBuilder.paxRecords(m), StandardCharsets.US_ASCII));
    m.clear();
    m.put("k", latin1("v".repeat(95)));
    String rec = new String(TarBuilder.paxRecords(m), StandardCharsets.US_ASCII);
    assertEquals(rec.length(), Integer.parseInt(rec.substring(0, rec.indexOf(' '))));
    assertEquals(102, rec.length(), "99 bytes + 3 digits: 2 digits would make 101, which has 3");
  }

  @Test
  void hugeIdsInPaxAndGnu() throws IOException {
    long huge = (1L << 31) + 5;
    for (Format format : List.of(Format.PAX, Format.GNU)) {
      byte[] tar =
          TarBuilder.create(format)
              .file("a", "x")
              .owner(185992, 70000)
              .file("b", "y")
              .owner(huge, huge + 1)
              .build();
      List<Read> r = read(tar);
      assertEquals(185992, r.get(0).entry().getLongUserId(), format.toString());
      assertEquals(70000, r.get(0).entry().getLongGroupId());
      List<Block> b = blocks(tar);
      if (format == Format.PAX) {
        assertEquals(huge, r.get(1).entry().getLongUserId(), format.toString());
        assertEquals(huge + 1, r.get(1).entry().getLongGroupId(), format.toString());
        assertEquals('x', b.get(1).typeflag());
        Map<String, byte[]> rec = paxRecords(b.get(1).data());
        assertEquals(Long.toString(huge), new String(rec.get("uid"), StandardCharsets.US_ASCII));
        assertEquals(0, TarUtils.parseOctalOrBinary(tar, b.get(2).offset() + 108, 8));
      } else {
        assertEquals(2, b.size(), "GNU needs no extension entry");
        assertEquals((byte) 0x80, tar[b.get(1).offset() + 108], "base-256 marker");
        // Read the fields directly: commons-compress 1.28 casts a base-256 uid/gid to int
        // (TarArchiveEntry.parseTarHeader), so it would report 2^31+5 as a negative number.
        assertEquals(huge, TarUtils.parseOctalOrBinary(tar, b.get(1).offset() + 108, 8));
        assertEquals(huge + 1, TarUtils.parseOctalOrBinary(tar, b.get(1).offset() + 116, 8));
      }
    }
    assertThrows(
        IllegalArgumentException.class,
        () -> TarBuilder.create(Format.USTAR).file("a", "x").uid(huge).build());
  }

  @Test
  void subSecondMtimesUsePax() throws IOException {
    byte[] tar = TarBuilder.create().file("f", "x").mtime(1_700_000_000L, 123_456_789).build();
    Map<String, byte[]> rec = paxRecords(blocks(tar).get(0).data());
    assertEquals("1700000000.123456789", new String(rec.get("mtime"), StandardCharsets.US_ASCII));
    Instant t = read(tar).get(0).entry().getLastModifiedTime().toInstant();
    assertEquals(Instant.ofEpochSecond(1_700_000_000L, 123_456_789), t);
    assertEquals("5.5", TarBuilder.paxTime(5, 500_000_000));
    assertEquals("-0.75", TarBuilder.paxTime(-1, 250_000_000));
    assertEquals("7", TarBuilder.paxTime(7, 0));
  }

  @Test
  void globalHeaderAndWhiteouts() throws IOException {
    Map<String, String> g = new LinkedHashMap<>();
    g.put("comment", "made by layerd testkit");
    byte[] tar =
        TarBuilder.create()
            .globalHeader(g)
            .whiteout("var/cache")
            .whiteout("top")
            .opaque("usr/share")
            .opaque("")
            .build();
    List<Block> b = blocks(tar);
    assertEquals('g', b.get(0).typeflag());
    assertEquals("pax_global_header", new String(b.get(0).name(), StandardCharsets.UTF_8));
    assertArrayEquals(latin1("made by layerd testkit"), paxRecords(b.get(0).data()).get("comment"));
    List<String> names = new ArrayList<>();
    for (Read r : read(tar)) {
      names.add(r.entry().getName());
      assertEquals(0, r.content().length);
    }
    assertEquals(
        List.of("var/.wh.cache", ".wh.top", "usr/share/.wh..wh..opq", ".wh..wh..opq"), names);
    assertThrows(IllegalArgumentException.class, () -> TarBuilder.create().whiteout("dir/"));
  }

  @Test
  void generatedContentIsStreamedAndReproducible() throws IOException {
    byte[] tar = TarBuilder.create().file("big", 300_001).file("after", "tail").build();
    List<Read> r = read(tar);
    assertArrayEquals(TarBuilder.generatedContent(300_001), r.get(0).content());
    assertEquals("tail", new String(r.get(1).content(), StandardCharsets.UTF_8));
    byte[] g = TarBuilder.generatedContent(4096);
    assertTrue(
        Zstd.compress(g, 3).length > 4000, "generated content is not trivially compressible");
  }

  @Test
  void hostileBlocksAndEndings() throws IOException {
    HeaderBlock good = HeaderBlock.ustar().name("f").mode(0644).size(0).typeflag('0');
    assertTrue(TarUtils.verifyCheckSum(good.toBytes()));
    byte[] bad = HeaderBlock.ustar().name("f").typeflag('0').badChecksum().toBytes();
    assertFalse(TarUtils.verifyCheckSum(bad));
    byte[] tar = TarBuilder.create().file("ok", "x").raw(bad).build();
    List<Read> r = read(tar);
    // commons-compress 1.28 does not reject a bad checksum by itself: only isCheckSumOK() tells.
    assertTrue(r.get(0).entry().isCheckSumOK());
    assertFalse(r.get(1).entry().isCheckSumOK());

    // Negative and huge device numbers in base-256.
    byte[] dev =
        HeaderBlock.gnu().name("dev/x").typeflag('3').devMajor(-1).devMinor(1L << 40).toBytes();
    assertEquals(-1, TarUtils.parseOctalOrBinary(dev, 329, 8));
    assertEquals(1L << 40, TarUtils.parseOctalOrBinary(dev, 337, 8));
    byte[] viaBuilder = TarBuilder.create(Format.GNU).charDevice("dev/y", -1, 5).build();
    assertEquals(-1, read(viaBuilder).get(0).entry().getDevMajor());
    assertThrows(
        IllegalArgumentException.class,
        () -> TarBuilder.create().charDevice("dev/z", -1, 0).build(),
        "PAX cannot hold a negative device number");

    // A header that claims more than the data: the archive ends early.
    byte[] lying = TarBuilder.create().file("f", "abc").declaredSize(1 << 20).endBlocks(0).build();
    assertEquals(1024, lying.length);
    assertEquals(1 << 20, TarUtils.parseOctalOrBinary(lying, 124, 12));

    byte[] trailing = TarBuilder.create().file("f", "x").trailingData(latin1("junk")).build();
    assertEquals(512 * 4 + 4, trailing.length);
    assertEquals(1, read(trailing).size());
    assertEquals(512 * 3, TarBuilder.create().file("f", "x").endBlocks(1).build().length);

    // A huge PAX header size, hand-made.
    byte[] hugePax =
        HeaderBlock.ustar().name("PaxHeaders/x").typeflag('x').size(1L << 40).toBytes();
    assertEquals(1L << 40, TarUtils.parseOctalOrBinary(hugePax, 124, 12));
    assertThrows(IllegalStateException.class, () -> TarBuilder.create().mode(0644));
    assertThrows(IllegalArgumentException.class, () -> HeaderBlock.ustar().name("n".repeat(101)));
  }

  @Test
  void compressedForms() throws IOException {
    TarBuilder b = TarBuilder.create().dir("d/").file("d/f", 70_000).file("d/g", "g");
    byte[] tar = b.build();
    assertArrayEquals(tar, new GZIPInputStream(new ByteArrayInputStream(b.gzip())).readAllBytes());

    byte[] multi = b.gzipMultiMember();
    assertArrayEquals(
        tar,
        GzipCompressorInputStream.builder()
            .setByteArray(multi)
            .setDecompressConcatenated(true)
            .get()
            .readAllBytes());
    byte[] firstMember =
        GzipCompressorInputStream.builder()
            .setByteArray(multi)
            .setDecompressConcatenated(false)
            .get()
            .readAllBytes();
    assertTrue(firstMember.length < tar.length && firstMember.length % 512 == 0, "two members");
    assertArrayEquals(Arrays.copyOf(tar, firstMember.length), firstMember);

    assertArrayEquals(tar, Zstd.decompress(b.zstd(), tar.length));
    byte[] skippable = b.zstdWithSkippableFrame();
    assertEquals(0x184D2A50, ByteBuffer.wrap(skippable).order(ByteOrder.LITTLE_ENDIAN).getInt());
    try (InputStream in = new ZstdInputStream(new ByteArrayInputStream(skippable))) {
      assertArrayEquals(tar, in.readAllBytes());
    }
    try (InputStream in = new XZInputStream(new ByteArrayInputStream(b.xz()))) {
      assertArrayEquals(tar, in.readAllBytes());
    }
    try (InputStream in = new BZip2CompressorInputStream(new ByteArrayInputStream(b.bzip2()))) {
      assertArrayEquals(tar, in.readAllBytes());
    }
  }

  @Test
  void writeToFileAndStream(@TempDir Path dir) throws IOException {
    TarBuilder b = TarBuilder.create().file("f", "content");
    Path p = dir.resolve("layer.tar");
    b.writeTo(p);
    assertArrayEquals(b.build(), Files.readAllBytes(p));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    b.writeTo(out);
    assertArrayEquals(b.build(), out.toByteArray());
    assertNull(read(b.build()).get(0).entry().getExtraPaxHeader("path"));
  }
}
