package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static io.layerd.unpack.Layers.lstat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.TarHeader;
import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.HeaderBlock;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.internal.TarReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tar formats the reader must read byte-exact, and the hostile headers it must refuse. */
class TarReaderTest {
  @TempDir Path tmp;

  static TarBuilder tar() {
    return TarBuilder.create();
  }

  static List<TarEntry> read(byte[] archive) throws IOException {
    TarReader r = new TarReader(new ByteArrayInputStream(archive));
    List<TarEntry> out = new ArrayList<>();
    for (TarEntry e = r.next(); e != null; e = r.next()) {
      out.add(e);
    }
    return out;
  }

  static TarEntry only(byte[] archive) throws IOException {
    List<TarEntry> all = read(archive);
    assertEquals(1, all.size(), all.toString());
    return all.get(0);
  }

  static InvalidArchiveException invalid(byte[] archive) {
    return assertThrows(InvalidArchiveException.class, () -> read(archive));
  }

  static String s(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- names

  @Test
  void theUstarPrefixFieldIsRead() throws IOException {
    String name = "p".repeat(120) + "/" + "n".repeat(90);
    TarEntry e =
        only(TarBuilder.create(TarBuilder.Format.USTAR).file(name, "x").ustarPrefix().build());
    assertEquals(name, s(e.name()));
  }

  @Test
  void paxPathLinkpathOwnersAndNames() throws IOException {
    String path = "d/" + "x".repeat(300);
    String link = "/" + "y".repeat(300);
    TarEntry e =
        only(
            tar()
                .symlink(path, link)
                .owner(3_000_000_000L, 2_999_999_999L)
                .uname("u".repeat(40))
                .gname("g")
                .build());
    assertEquals(TarEntry.Type.SYMLINK, e.type());
    assertEquals(path, s(e.name()));
    assertEquals(link, s(e.linkName()));
    assertEquals(3_000_000_000L, e.uid());
    assertEquals(2_999_999_999L, e.gid());
    assertEquals("u".repeat(40), e.uname());
  }

  @Test
  void paxXattrsStayBytes() throws IOException {
    byte[] value = {0, '\n', '=', ' ', (byte) 0xff, (byte) 0x80, 0, '9'};
    TarEntry e =
        only(
            tar()
                .file("f", "")
                .xattr("security.capability", value)
                .xattr("user.text", "t")
                .pax(
                    "LIBARCHIVE.xattr.user.%C3%A9t%C3%A9",
                    Base64.getEncoder().encodeToString(value))
                .build());
    assertArrayEquals(value, e.xattrs().get("security.capability"));
    assertArrayEquals("t".getBytes(StandardCharsets.UTF_8), e.xattrs().get("user.text"));
    assertArrayEquals(value, e.xattrs().get("user.été"));
  }

  @Test
  void paxTimesKeepNanosecondsAndNegativeTimes() throws IOException {
    List<TarEntry> es =
        read(
            tar()
                .file("a", "")
                .mtime(1_700_000_000L, 1)
                .file("b", "")
                .mtime(-2, 250_000_000)
                .file("c", "")
                .pax("mtime", "12.5")
                .pax("atime", "-0.75")
                .build());
    assertEquals(1_700_000_000L + "." + 1, es.get(0).mtimeSec() + "." + es.get(0).mtimeNsec());
    assertEquals(-2 + "." + 250_000_000, es.get(1).mtimeSec() + "." + es.get(1).mtimeNsec());
    assertEquals(12 + "." + 500_000_000, es.get(2).mtimeSec() + "." + es.get(2).mtimeNsec());
    assertEquals(-1 + "." + 250_000_000, es.get(2).atimeSec() + "." + es.get(2).atimeNsec());
  }

  @Test
  void aGlobalHeaderIsIgnored() throws IOException {
    List<TarEntry> es =
        read(
            tar()
                .globalHeader(Map.of("path", "hijacked", "uid", "666", "comment", "c"))
                .file("a", "a")
                .owner(1, 2)
                .build());
    assertEquals(1, es.size());
    assertEquals("a", s(es.get(0).name()));
    assertEquals(1, es.get(0).uid());
  }

  @Test
  void gnuLongNamesAndLinkNames() throws IOException {
    String name = "n".repeat(250) + "/" + "m".repeat(250);
    String link = "l".repeat(400);
    List<TarEntry> es =
        read(
            TarBuilder.create(TarBuilder.Format.GNU)
                .file(name, "x")
                .hardlink("h".repeat(150), name)
                .symlink("s", link)
                .build());
    assertEquals(name, s(es.get(0).name()));
    assertEquals(name, s(es.get(1).linkName()));
    assertEquals("h".repeat(150), s(es.get(1).name()));
    assertEquals(link, s(es.get(2).linkName()));
  }

  /** moby: a huge GNU (base-256) uid together with a ustar long name. */
  @Test
  void base256IdsWithAUstarPrefixName() throws IOException {
    byte[] h =
        HeaderBlock.ustar()
            .prefix("p".repeat(150).getBytes(StandardCharsets.UTF_8))
            .name("file")
            .mode(0644)
            .uid(4_294_967_295L)
            .gid(2_097_152)
            .size(0)
            .mtime(1)
            .typeflag('0')
            .toBytes();
    TarEntry e = only(tar().raw(h).build());
    assertEquals("p".repeat(150) + "/file", s(e.name()));
    assertEquals(4_294_967_295L, e.uid());
    assertEquals(2_097_152, e.gid());
  }

  @Test
  void aV7DirectoryIsNamedWithATrailingSlash() throws IOException {
    byte[] h =
        HeaderBlock.v7().name("olddir/").mode(0755).size(0).mtime(1).typeflag('\0').toBytes();
    assertEquals(TarEntry.Type.DIRECTORY, only(tar().raw(h).build()).type());
  }

  @Test
  void aHardlinkWithDataIsSkippedCleanly() throws IOException {
    byte[] data = new byte[700];
    byte[] h =
        HeaderBlock.ustar()
            .name("h")
            .linkName("f")
            .mode(0644)
            .size(data.length)
            .typeflag('1')
            .toBytes();
    List<TarEntry> es =
        read(tar().file("f", "f").raw(h).raw(Arrays.copyOf(data, 1024)).file("after", "a").build());
    assertEquals(3, es.size());
    assertEquals("after", s(es.get(2).name()));
  }

  @Test
  void theReaderStopsAtTheEndOfArchiveAndALoneZeroBlockEndsIt() throws IOException {
    byte[] archive = tar().file("a", "a").trailingData(new byte[] {1, 2, 3}).build();
    TarReader r = new TarReader(new ByteArrayInputStream(archive));
    r.next();
    assertNull(r.next());
    assertEquals(archive.length - 3, r.position());
    assertEquals(1, read(tar().file("a", "a").endBlocks(1).build()).size());
  }

  // ---------------------------------------------------------------- hostile headers

  @Test
  void aBadChecksumIsRefusedWithItsOffset() {
    byte[] bad = HeaderBlock.ustar().name("b").mode(0644).typeflag('0').badChecksum().toBytes();
    InvalidArchiveException e = invalid(tar().file("a", "a").raw(bad).build());
    assertEquals(1024, e.offset());
    assertTrue(e.getMessage().contains("checksum"), e.getMessage());
  }

  @Test
  void notATarIsRefused() {
    byte[] text = "this is not a tar archive at all\n".repeat(40).getBytes(StandardCharsets.UTF_8);
    assertTrue(invalid(text).getMessage().contains("checksum"));
  }

  @Test
  void aZeroBlockFollowedByDataIsRefused() {
    assertTrue(
        invalid(tar().file("a", "a").raw(new byte[512]).file("b", "b").build())
            .getMessage()
            .contains("zero block"));
  }

  @Test
  void aPaxHeaderOverOneMebibyteIsRefused() {
    byte[] big = new byte[TarReader.MAX_SPECIAL_SIZE];
    Arrays.fill(big, (byte) 'v');
    InvalidArchiveException e = invalid(tar().file("f", "").pax("comment", big).build());
    assertTrue(e.getMessage().contains("exceeds the limit"), e.getMessage());
    assertEquals(0, e.offset());
  }

  @Test
  void aGnuLongNameOverTheLimitIsRefused() {
    byte[] h =
        HeaderBlock.gnu()
            .name("././@LongLink")
            .size(TarReader.MAX_SPECIAL_SIZE + 1L)
            .typeflag('L')
            .toBytes();
    assertTrue(invalid(tar().raw(h).build()).getMessage().contains("GNU long name"));
  }

  @Test
  void aNameOver64KiBIsRefused() {
    String name = "a/".repeat(TarReader.MAX_NAME_LENGTH / 2) + "x";
    InvalidArchiveException e = invalid(tar().file(name, "").build());
    assertTrue(
        e.getMessage().contains("exceeds the limit of " + TarReader.MAX_NAME_LENGTH),
        e.getMessage());
    String link = "/" + "l".repeat(TarReader.MAX_NAME_LENGTH);
    assertTrue(invalid(tar().symlink("s", link).build()).getMessage().contains("link target"));
  }

  @ParameterizedTest
  @ValueSource(longs = {-1, -4096, 1L << 32, 1L << 40})
  void deviceNumbersNegativeOrBeyond32BitsAreRefused(long n) {
    byte[] major =
        HeaderBlock.ustar()
            .name("dev/x")
            .mode(0600)
            .typeflag('3')
            .devMajor(n)
            .devMinor(1)
            .toBytes();
    assertTrue(invalid(tar().raw(major).build()).getMessage().contains("device number"));
    byte[] minor =
        HeaderBlock.ustar()
            .name("dev/y")
            .mode(0600)
            .typeflag('4')
            .devMajor(1)
            .devMinor(n)
            .toBytes();
    assertTrue(invalid(tar().raw(minor).build()).getMessage().contains("device number"));
  }

  @Test
  void paxDeviceNumbersAndIdsAreCheckedToo() {
    invalid(tar().charDevice("c", 1, 1).pax("SCHILY.devmajor", "-1").build());
    invalid(tar().charDevice("c", 1, 1).pax("SCHILY.devminor", "4294967296").build());
    invalid(tar().file("f", "").pax("uid", "4294967296").build());
    invalid(tar().file("f", "").pax("gid", "-5").build());
    invalid(tar().file("f", "").pax("size", "lots").build());
  }

  @Test
  void aMalformedPaxRecordIsRefused() {
    byte[] data = "99 path=short\n".getBytes(StandardCharsets.US_ASCII);
    byte[] x =
        HeaderBlock.ustar()
            .name("PaxHeaders/f")
            .mode(0644)
            .size(data.length)
            .typeflag('x')
            .toBytes();
    invalid(
        tar()
            .raw(x)
            .raw(Arrays.copyOf(data, 512))
            .raw(HeaderBlock.ustar().name("f").mode(0644).typeflag('0').toBytes())
            .build());
  }

  @Test
  void anExtendedHeaderWithNoEntryIsRefused() {
    byte[] data = "11 path=ab\n".getBytes(StandardCharsets.US_ASCII);
    byte[] x =
        HeaderBlock.ustar()
            .name("PaxHeaders/f")
            .mode(0644)
            .size(data.length)
            .typeflag('x')
            .toBytes();
    invalid(tar().raw(x).raw(Arrays.copyOf(data, 512)).build());
  }

  // ---------------------------------------------------------------- GNU sparse files

  /** Segments (offset, length) of the sparse test file, and its size: holes between and after. */
  static final long[][] SEGMENTS = {
    {0, 100}, {8192, 300}, {16384, 50}, {19000, 1000}, {40960, 4096}, {90000, 7}
  };

  static final long REAL_SIZE = 120_000;

  /** The expanded content: each segment filled with its own bytes, zeros elsewhere. */
  static byte[] expanded() {
    byte[] out = new byte[(int) REAL_SIZE];
    for (long[] seg : SEGMENTS) {
      for (int i = 0; i < seg[1]; i++) {
        out[(int) (seg[0] + i)] = (byte) ('a' + (seg[0] + i) % 26);
      }
    }
    return out;
  }

  /** The segments' data back to back, as the archive stores it. */
  static byte[] stored() {
    byte[] all = expanded();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (long[] seg : SEGMENTS) {
      out.write(all, (int) seg[0], (int) seg[1]);
    }
    return out.toByteArray();
  }

  static byte[] octal(long v, int len) {
    String s = Long.toOctalString(v);
    return ("0".repeat(len - 1 - s.length()) + s + "\0").getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] padded(byte[] b) {
    return Arrays.copyOf(b, (b.length + 511) / 512 * 512);
  }

  /**
   * An old GNU sparse entry (typeflag 'S'): 4 segments in the header, the rest in one extension.
   */
  static byte[] oldGnuSparse(String name) {
    byte[] data = stored();
    byte[] tail = new byte[155]; // bytes 345..499 of a GNU header
    for (int i = 0; i < 4; i++) {
      System.arraycopy(octal(SEGMENTS[i][0], 12), 0, tail, 41 + i * 24, 12);
      System.arraycopy(octal(SEGMENTS[i][1], 12), 0, tail, 41 + i * 24 + 12, 12);
    }
    tail[137] = 1; // isextended
    System.arraycopy(octal(REAL_SIZE, 12), 0, tail, 138, 12);
    byte[] header =
        HeaderBlock.gnu()
            .name(name)
            .mode(0644)
            .size(data.length)
            .mtime(1)
            .typeflag('S')
            .field(TarHeader.Field.PREFIX, tail)
            .toBytes();
    byte[] ext = new byte[512];
    for (int i = 4; i < SEGMENTS.length; i++) {
      System.arraycopy(octal(SEGMENTS[i][0], 12), 0, ext, (i - 4) * 24, 12);
      System.arraycopy(octal(SEGMENTS[i][1], 12), 0, ext, (i - 4) * 24 + 12, 12);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(header);
    out.writeBytes(ext);
    out.writeBytes(padded(data));
    return out.toByteArray();
  }

  static byte[] paxRecord(String key, String value) {
    String rest = " " + key + "=" + value + "\n";
    int len = rest.length() + 1;
    while (Integer.toString(len).length() + rest.length() != len) {
      len = Integer.toString(len).length() + rest.length();
    }
    return (len + rest).getBytes(StandardCharsets.UTF_8);
  }

  /** PAX sparse 0.0: repeated GNU.sparse.offset/numbytes records, which a map cannot hold. */
  static byte[] pax00Sparse(String name) {
    byte[] data = stored();
    ByteArrayOutputStream recs = new ByteArrayOutputStream();
    recs.writeBytes(paxRecord("GNU.sparse.size", Long.toString(REAL_SIZE)));
    recs.writeBytes(paxRecord("GNU.sparse.numblocks", Integer.toString(SEGMENTS.length)));
    for (long[] seg : SEGMENTS) {
      recs.writeBytes(paxRecord("GNU.sparse.offset", Long.toString(seg[0])));
      recs.writeBytes(paxRecord("GNU.sparse.numbytes", Long.toString(seg[1])));
    }
    byte[] pax = recs.toByteArray();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(
        HeaderBlock.ustar()
            .name("PaxHeaders/" + name)
            .mode(0644)
            .size(pax.length)
            .typeflag('x')
            .toBytes());
    out.writeBytes(padded(pax));
    out.writeBytes(
        HeaderBlock.ustar()
            .name(name)
            .mode(0644)
            .size(data.length)
            .mtime(1)
            .typeflag('0')
            .toBytes());
    out.writeBytes(padded(data));
    return out.toByteArray();
  }

  static String map01() {
    StringBuilder sb = new StringBuilder();
    for (long[] seg : SEGMENTS) {
      sb.append(sb.length() == 0 ? "" : ",").append(seg[0]).append(',').append(seg[1]);
    }
    return sb.toString();
  }

  /** PAX sparse 0.1: one GNU.sparse.map record; the real name in GNU.sparse.name. */
  static TarBuilder pax01Sparse(TarBuilder t, String name) {
    return t.file("GNUSparseFile.0/" + name, stored())
        .pax("GNU.sparse.size", Long.toString(REAL_SIZE))
        .pax("GNU.sparse.numblocks", Integer.toString(SEGMENTS.length))
        .pax("GNU.sparse.map", map01())
        .pax("GNU.sparse.name", name);
  }

  /** PAX sparse 1.0: the map at the start of the data, in decimal lines padded to a block. */
  static TarBuilder pax10Sparse(TarBuilder t, String name) {
    StringBuilder map = new StringBuilder().append(SEGMENTS.length).append('\n');
    for (long[] seg : SEGMENTS) {
      map.append(seg[0]).append('\n').append(seg[1]).append('\n');
    }
    byte[] head = padded(map.toString().getBytes(StandardCharsets.US_ASCII));
    byte[] data = stored();
    byte[] all = Arrays.copyOf(head, head.length + data.length);
    System.arraycopy(data, 0, all, head.length, data.length);
    return t.file("GNUSparseFile.0/" + name, all)
        .pax("GNU.sparse.major", "1")
        .pax("GNU.sparse.minor", "0")
        .pax("GNU.sparse.name", name)
        .pax("GNU.sparse.realsize", Long.toString(REAL_SIZE));
  }

  @Test
  void everyGnuSparseFormatExpandsToTheSameContent() throws IOException {
    byte[] archive =
        pax10Sparse(
                pax01Sparse(
                    tar().raw(oldGnuSparse("old-gnu")).raw(pax00Sparse("pax-0.0")), "pax-0.1"),
                "pax-1.0")
            .file("after", "after")
            .build();
    List<TarEntry> es = read(archive);
    assertEquals(5, es.size());
    for (int i = 0; i < 4; i++) {
      TarEntry e = es.get(i);
      assertEquals(REAL_SIZE, e.size(), s(e.name()));
      assertEquals(SEGMENTS.length, e.sparse().size(), s(e.name()));
    }
    Path root = Files.createDirectories(tmp.resolve("root"));
    apply(root, TarBuilder.create().raw(archive).endBlocks(0));
    byte[] want = expanded();
    for (String n : List.of("old-gnu", "pax-0.0", "pax-0.1", "pax-1.0")) {
      byte[] got = Files.readAllBytes(root.resolve(n));
      assertEquals(want.length, got.length, n);
      assertArrayEquals(want, got, n);
      assertTrue(
          lstat(root.resolve(n)).blocks() * 512 < REAL_SIZE / 2,
          n + ": the holes were written out as zeros");
    }
    assertEquals("after", Files.readString(root.resolve("after")));
  }

  @Test
  void aSparseMapThatLiesIsRefused() {
    invalid(
        tar()
            .file("GNUSparseFile.0/f", "abc")
            .pax("GNU.sparse.size", "10")
            .pax("GNU.sparse.map", "8,3")
            .pax("GNU.sparse.name", "f")
            .build());
    invalid(
        tar()
            .file("GNUSparseFile.0/f", "abc")
            .pax("GNU.sparse.size", "100")
            .pax("GNU.sparse.map", "0,2")
            .pax("GNU.sparse.name", "f")
            .build());
  }

  /** The same sparse file written by GNU tar in each of its sparse formats. */
  @EndToEndTest
  void gnuTarSparseArchivesExpandCorrectly() throws Exception {
    Path tarCmd = Require.command("tar");
    Path src = Files.createDirectories(tmp.resolve("src"));
    byte[] want = expanded();
    try (RandomAccessFile f = new RandomAccessFile(src.resolve("sparse").toFile(), "rw")) {
      f.setLength(REAL_SIZE);
      for (long[] seg : SEGMENTS) {
        f.seek(seg[0]);
        f.write(want, (int) seg[0], (int) seg[1]);
      }
    }
    String[][] formats = {
      {"--format=gnu"},
      {"--format=posix", "--sparse-version=0.0"},
      {"--format=posix", "--sparse-version=0.1"},
      {"--format=posix", "--sparse-version=1.0"},
    };
    for (String[] fmt : formats) {
      Path archive = tmp.resolve("a.tar");
      List<String> cmd = new ArrayList<>(List.of(tarCmd.toString(), "--sparse"));
      cmd.addAll(List.of(fmt));
      cmd.addAll(List.of("-cf", archive.toString(), "-C", src.toString(), "sparse"));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), out);
      Path root =
          Files.createDirectories(tmp.resolve("root" + String.join("", fmt).replaceAll("\\W", "")));
      Layers.apply(LayerApplier.builder().build(), root, "sparse", Files.readAllBytes(archive));
      assertArrayEquals(want, Files.readAllBytes(root.resolve("sparse")), String.join(" ", fmt));
    }
  }
}
