package io.layerd.testkit;

import com.github.luben.zstd.Zstd;
import io.layerd.sys.Names;
import io.layerd.sys.TarHeader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorOutputStream;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

/**
 * Builds tar archives in code, byte for byte, for layer fixtures — ordinary and hostile.
 *
 * <pre>{@code
 * byte[] layer = TarBuilder.create()
 *     .dir("etc/")
 *     .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n").mode(0644)
 *     .symlink("localetc", "/etc")
 *     .file("bin/ping", 4096).xattr("security.capability", capBytes).uid(185992)
 *     .whiteout("var/cache")                     // var/.wh.cache
 *     .opaque("usr/share")                       // usr/share/.wh..wh..opq
 *     .file(new byte[] {'c', 'a', 'f', (byte) 0xe9}, "latin-1 name")
 *     .gzip();
 * }</pre>
 *
 * <p><b>Entries and their options.</b> Each entry method appends an entry; the option methods that
 * follow it ({@link #mode}, {@link #uid}, {@link #gid}, {@link #uname}, {@link #mtime}, {@link
 * #xattr}, {@link #pax}, {@link #format}, {@link #ustarPrefix}, {@link #declaredSize}) change the
 * most recent entry. Names and link targets are written exactly as given (a String as UTF-8, a
 * byte[] as is, so non-UTF-8 names are possible; no slash is added or removed). Defaults: uid and
 * gid 0, empty uname and gname, mtime {@value #DEFAULT_MTIME}, mode 0755 for directories, 0777 for
 * symlinks, 0644 otherwise.
 *
 * <p><b>Formats</b> decide how what does not fit a ustar header is written: names over 100 bytes,
 * link names over 100 bytes, numbers over the octal fields (uid/gid over 2097151, sizes and mtimes
 * over 8 GiB or negative), user names over 32 bytes.
 *
 * <ul>
 *   <li>{@link Format#USTAR}: long names are split into the ustar prefix field; anything else that
 *       does not fit is an IllegalArgumentException, as are xattrs, PAX records and sub-second
 *       mtimes.
 *   <li>{@link Format#PAX} (the default): a PAX extended header (typeflag {@code x}) before the
 *       entry, with {@code path}, {@code linkpath}, {@code uid}, {@code gid}, {@code size}, {@code
 *       mtime}, {@code uname}, {@code gname} as needed ({@code hdrcharset=BINARY} when a path is
 *       not UTF-8); the ustar fields then hold the first 100 bytes of the name, and 0 for the
 *       numbers that did not fit.
 *   <li>{@link Format#GNU}: GNU magic, {@code ././@LongLink} entries (typeflags {@code L} and
 *       {@code K}) for long names, base-256 for big or negative numbers (device numbers too).
 * </ul>
 *
 * Xattrs ({@code SCHILY.xattr.NAME}, the value's bytes as they are), other PAX records and
 * sub-second mtimes ({@code mtime=SEC.NANOS}) always go into a PAX extended header, in the GNU
 * format too. {@link #globalHeader} adds a PAX global header (typeflag {@code g}); {@link #raw}
 * appends hand-crafted bytes (see {@link HeaderBlock}); {@link #endBlocks} and {@link
 * #trailingData} shape the end of the archive.
 *
 * <p>Every header is encoded here, through {@link HeaderBlock}, rather than by commons-compress's
 * TarArchiveOutputStream: that writer normalises names (strips a leading slash), writes PAX values
 * as UTF-8 strings (so neither a non-UTF-8 path nor a binary {@code security.capability} survives),
 * has no GNU magic, never uses the ustar prefix field and cannot write hostile headers. The tests
 * read the archives back with commons-compress and extract them with GNU tar.
 *
 * <p>A mutable builder; not thread-safe. {@link #build()} can be called more than once.
 */
public final class TarBuilder {
  /** The mtime of entries that set none: 2023-11-14T22:13:20Z. */
  public static final long DEFAULT_MTIME = 1_700_000_000L;

  /** How headers carry what ustar cannot; see the class comment. */
  public enum Format {
    /** POSIX.1-1988 ustar only: long names through the prefix field, nothing else. */
    USTAR,
    /** POSIX.1-2001 pax: extended headers for everything that does not fit. */
    PAX,
    /** GNU tar's own format: LongLink entries and base-256 numbers. */
    GNU
  }

  /** The kinds of entries, with their typeflags. */
  private enum Kind {
    FILE('0', 0644),
    HARDLINK('1', 0644),
    SYMLINK('2', 0777),
    CHAR('3', 0644),
    BLOCK('4', 0644),
    DIR('5', 0755),
    FIFO('6', 0644);

    final char typeflag;
    final int defaultMode;

    Kind(char typeflag, int defaultMode) {
      this.typeflag = typeflag;
      this.defaultMode = defaultMode;
    }
  }

  /** Something appended to the archive: an entry, a global header, raw bytes. */
  private interface Part {
    void writeTo(OutputStream out) throws IOException;
  }

  private final Format format;
  private final List<Part> parts = new ArrayList<>();
  private Entry last;
  private int endBlocks = 2;
  private byte[] trailing = new byte[0];

  private TarBuilder(Format format) {
    this.format = format;
  }

  /** A builder for a PAX archive. */
  public static TarBuilder create() {
    return new TarBuilder(Format.PAX);
  }

  /** A builder for an archive in the given format. */
  public static TarBuilder create(Format format) {
    return new TarBuilder(format);
  }

  // ------------------------------------------------------------------ entries

  /** A directory. Write a trailing slash in the name if the archive should have one. */
  public TarBuilder dir(String name) {
    return dir(utf8(name));
  }

  /** A directory with a raw name. */
  public TarBuilder dir(byte[] name) {
    return add(new Entry(Kind.DIR, name));
  }

  /** A regular file with this content. */
  public TarBuilder file(String name, byte[] content) {
    return file(utf8(name), content);
  }

  /** A regular file with this content, UTF-8. */
  public TarBuilder file(String name, String content) {
    return file(utf8(name), utf8(content));
  }

  /** A regular file with a raw name and this content, UTF-8. */
  public TarBuilder file(byte[] name, String content) {
    return file(name, utf8(content));
  }

  /** A regular file with a raw name. */
  public TarBuilder file(byte[] name, byte[] content) {
    Entry e = new Entry(Kind.FILE, name);
    e.content = content.clone();
    e.size = content.length;
    return add(e);
  }

  /**
   * A regular file of {@code size} bytes of {@link #generatedContent generated content}, streamed
   * when the archive is written (so sizes beyond memory are possible with {@link #writeTo(Path)}).
   */
  public TarBuilder file(String name, long size) {
    return file(utf8(name), size);
  }

  /** A regular file with a raw name and {@code size} bytes of generated content. */
  public TarBuilder file(byte[] name, long size) {
    if (size < 0) {
      throw new IllegalArgumentException("negative size " + size);
    }
    Entry e = new Entry(Kind.FILE, name);
    e.size = size;
    return add(e);
  }

  /** A symbolic link {@code name -> target}. */
  public TarBuilder symlink(String name, String target) {
    return symlink(utf8(name), utf8(target));
  }

  /** A symbolic link with raw name and target. */
  public TarBuilder symlink(byte[] name, byte[] target) {
    Entry e = new Entry(Kind.SYMLINK, name);
    e.link = target.clone();
    return add(e);
  }

  /** A hard link: {@code name} is another name of the earlier entry {@code target}. */
  public TarBuilder hardlink(String name, String target) {
    return hardlink(utf8(name), utf8(target));
  }

  /** A hard link with raw name and target. */
  public TarBuilder hardlink(byte[] name, byte[] target) {
    Entry e = new Entry(Kind.HARDLINK, name);
    e.link = target.clone();
    return add(e);
  }

  /** A character device. */
  public TarBuilder charDevice(String name, long major, long minor) {
    return charDevice(utf8(name), major, minor);
  }

  /** A character device with a raw name. */
  public TarBuilder charDevice(byte[] name, long major, long minor) {
    Entry e = new Entry(Kind.CHAR, name);
    e.major = major;
    e.minor = minor;
    return add(e);
  }

  /** A block device. */
  public TarBuilder blockDevice(String name, long major, long minor) {
    return blockDevice(utf8(name), major, minor);
  }

  /** A block device with a raw name. */
  public TarBuilder blockDevice(byte[] name, long major, long minor) {
    Entry e = new Entry(Kind.BLOCK, name);
    e.major = major;
    e.minor = minor;
    return add(e);
  }

  /** A named pipe. */
  public TarBuilder fifo(String name) {
    return fifo(utf8(name));
  }

  /** A named pipe with a raw name. */
  public TarBuilder fifo(byte[] name) {
    return add(new Entry(Kind.FIFO, name));
  }

  /**
   * An OCI/AUFS whiteout for {@code path}: an empty file {@code dir/.wh.name} (for {@code
   * "dir/name"}), or {@code .wh.name} at the top.
   */
  public TarBuilder whiteout(String path) {
    int slash = path.lastIndexOf('/');
    String dir = path.substring(0, slash + 1);
    String name = path.substring(slash + 1);
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a whiteout needs a name to hide: '" + path + "'");
    }
    return file(dir + ".wh." + name, new byte[0]);
  }

  /**
   * An opaque-directory marker: an empty file {@code dir/.wh..wh..opq} ({@code .wh..wh..opq} for
   * {@code ""} or {@code "."}).
   */
  public TarBuilder opaque(String dir) {
    String d = dir.isEmpty() || dir.equals(".") || dir.equals("./") ? "" : dir;
    if (!d.isEmpty() && !d.endsWith("/")) {
      d += "/";
    }
    return file(d + ".wh..wh..opq", new byte[0]);
  }

  /**
   * A PAX global extended header (typeflag {@code g}, name {@code pax_global_header}) with these
   * records, in order.
   */
  public TarBuilder globalHeader(Map<String, String> records) {
    Map<String, byte[]> r = new LinkedHashMap<>();
    records.forEach((k, v) -> r.put(k, utf8(v)));
    byte[] data = paxRecords(r);
    parts.add(
        out -> {
          out.write(
              HeaderBlock.ustar()
                  .name("pax_global_header")
                  .mode(0644)
                  .size(data.length)
                  .mtime(DEFAULT_MTIME)
                  .typeflag('g')
                  .toBytes());
          writePadded(out, data);
        });
    last = null;
    return this;
  }

  /**
   * Appends bytes exactly as given: hand-made header blocks ({@link HeaderBlock}), their data, or
   * anything else, such as half a block to truncate an archive.
   */
  public TarBuilder raw(byte[] bytes) {
    byte[] copy = bytes.clone();
    parts.add(out -> out.write(copy));
    last = null;
    return this;
  }

  /** How many zero blocks end the archive: 2 (the default, as POSIX says), 1, or 0. */
  public TarBuilder endBlocks(int count) {
    if (count < 0) {
      throw new IllegalArgumentException("negative block count " + count);
    }
    this.endBlocks = count;
    return this;
  }

  /** Bytes after the end-of-archive blocks (readers must ignore them). */
  public TarBuilder trailingData(byte[] bytes) {
    this.trailing = bytes.clone();
    return this;
  }

  // ------------------------------------------------------------------ options of the last entry

  /** The permission bits (with setuid 04000, setgid 02000, sticky 01000) of the last entry. */
  public TarBuilder mode(int mode) {
    current().mode = mode;
    return this;
  }

  /** The uid of the last entry (any value: see the formats for big ones). */
  public TarBuilder uid(long uid) {
    current().uid = uid;
    return this;
  }

  /** The gid of the last entry. */
  public TarBuilder gid(long gid) {
    current().gid = gid;
    return this;
  }

  /** The uid and gid of the last entry. */
  public TarBuilder owner(long uid, long gid) {
    return uid(uid).gid(gid);
  }

  /** The user name of the last entry. */
  public TarBuilder uname(String name) {
    current().uname = name;
    return this;
  }

  /** The group name of the last entry. */
  public TarBuilder gname(String name) {
    current().gname = name;
    return this;
  }

  /** The mtime of the last entry, in whole seconds. */
  public TarBuilder mtime(long seconds) {
    return mtime(seconds, 0);
  }

  /** The mtime of the last entry; nanoseconds other than 0 go into a PAX {@code mtime} record. */
  public TarBuilder mtime(long seconds, int nanos) {
    if (nanos < 0 || nanos > 999_999_999) {
      throw new IllegalArgumentException("nanoseconds out of range: " + nanos);
    }
    Entry e = current();
    e.mtime = seconds;
    e.mtimeNanos = nanos;
    return this;
  }

  /** An extended attribute of the last entry ({@code SCHILY.xattr.NAME}), value as is. */
  public TarBuilder xattr(String name, byte[] value) {
    current().pax.put("SCHILY.xattr." + name, value.clone());
    return this;
  }

  /** An extended attribute of the last entry, value UTF-8. */
  public TarBuilder xattr(String name, String value) {
    return xattr(name, utf8(value));
  }

  /**
   * A PAX record of the last entry, written as is after the records this builder derives (a record
   * given here with the same key replaces a derived one).
   */
  public TarBuilder pax(String key, byte[] value) {
    if (key.isEmpty() || key.indexOf('=') >= 0) {
      throw new IllegalArgumentException("not a PAX key: '" + key + "'");
    }
    current().pax.put(key, value.clone());
    return this;
  }

  /** A PAX record of the last entry, value UTF-8. */
  public TarBuilder pax(String key, String value) {
    return pax(key, utf8(value));
  }

  /** Writes the last entry in another format than the archive's (to mix formats). */
  public TarBuilder format(Format entryFormat) {
    current().format = entryFormat;
    return this;
  }

  /**
   * Stores the last entry's name through the ustar prefix field ({@code prefix + "/" + name}),
   * whatever its length, splitting at the last slash that leaves at most 100 bytes in the name.
   */
  public TarBuilder ustarPrefix() {
    current().prefix = true;
    return this;
  }

  /**
   * Makes the last entry's header claim {@code size} bytes whatever the data (a lying header): with
   * a larger size the archive runs short, with a smaller one data spills into the next "header".
   */
  public TarBuilder declaredSize(long size) {
    current().declaredSize = size;
    return this;
  }

  // ------------------------------------------------------------------ output

  /** The archive. */
  public byte[] build() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** Writes the archive to a stream (not closed). */
  public void writeTo(OutputStream out) throws IOException {
    for (Part p : parts) {
      p.writeTo(out);
    }
    out.write(new byte[HeaderBlock.SIZE * endBlocks]);
    out.write(trailing);
  }

  /** Writes the archive to a file (created or replaced). */
  public void writeTo(Path file) throws IOException {
    try (OutputStream out = Files.newOutputStream(file)) {
      writeTo(out);
    }
  }

  /** The archive, gzip-compressed (one member). */
  public byte[] gzip() {
    return gzip(build());
  }

  /**
   * The archive as a gzip file of two members (the tar split at a block boundary near its middle),
   * as pigz and concatenated layers produce; a reader that stops after one member loses data.
   */
  public byte[] gzipMultiMember() {
    byte[] tar = build();
    int cut = Math.max(HeaderBlock.SIZE, tar.length / 2 / HeaderBlock.SIZE * HeaderBlock.SIZE);
    byte[] a = gzip(Arrays.copyOfRange(tar, 0, cut));
    byte[] b = gzip(Arrays.copyOfRange(tar, cut, tar.length));
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** The archive, zstd-compressed (level 3, one frame). */
  public byte[] zstd() {
    return Zstd.compress(build(), 3);
  }

  /**
   * The archive, zstd-compressed, after a skippable frame (magic 0x184D2A50) of 16 bytes that
   * readers must skip.
   */
  public byte[] zstdWithSkippableFrame() {
    byte[] frame = Zstd.compress(build(), 3);
    ByteBuffer b = ByteBuffer.allocate(8 + 16 + frame.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0x184D2A50).putInt(16).put("layerd-skippable".getBytes(StandardCharsets.US_ASCII));
    b.put(frame);
    return b.array();
  }

  /** The archive, xz-compressed. */
  public byte[] xz() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (XZOutputStream out = new XZOutputStream(bytes, new LZMA2Options())) {
      writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** The archive, bzip2-compressed. */
  public byte[] bzip2() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (BZip2CompressorOutputStream out = new BZip2CompressorOutputStream(bytes)) {
      writeTo(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** Any bytes (another archive, a blob of an image), gzip-compressed (one member). */
  public static byte[] gzip(byte[] data) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
      out.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  // ------------------------------------------------------------------ generated content

  /** The byte at {@code offset} of generated file content: a fixed, poorly compressible pattern. */
  public static byte generatedByte(long offset) {
    long x = (offset >>> 3) * 0x9E3779B97F4A7C15L;
    x ^= x >>> 29;
    return (byte) (x >>> (8 * (offset & 7)));
  }

  /**
   * The first {@code size} bytes of generated content (what {@link #file(String, long)} writes).
   */
  public static byte[] generatedContent(int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = generatedByte(i);
    }
    return b;
  }

  // ------------------------------------------------------------------ encoding

  private TarBuilder add(Entry e) {
    e.format = format;
    parts.add(e);
    last = e;
    return this;
  }

  private Entry current() {
    if (last == null) {
      throw new IllegalStateException("an entry option must follow an entry");
    }
    return last;
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void writePadded(OutputStream out, byte[] data) throws IOException {
    out.write(data);
    int pad = (HeaderBlock.SIZE - data.length % HeaderBlock.SIZE) % HeaderBlock.SIZE;
    out.write(new byte[pad]);
  }

  /** Records {@code "LEN key=value\n"}, LEN counting itself. */
  static byte[] paxRecords(Map<String, byte[]> records) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> r : records.entrySet()) {
      byte[] key = utf8(r.getKey());
      int rest = 1 + key.length + 1 + r.getValue().length + 1; // ' ' key '=' value '\n'
      int len = rest + 1;
      while (Integer.toString(len).length() + rest != len) {
        len = Integer.toString(len).length() + rest;
      }
      out.writeBytes(utf8(len + " "));
      out.writeBytes(key);
      out.write('=');
      out.writeBytes(r.getValue());
      out.write('\n');
    }
    return out.toByteArray();
  }

  private static boolean isUtf8(byte[] b) {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  private static final long MAX_OCTAL_8 = 07777777L;
  private static final long MAX_OCTAL_12 = 077777777777L;

  /** One entry and its options. */
  private static final class Entry implements Part {
    final Kind kind;
    final byte[] name;
    Format format;
    byte[] link;
    byte[] content;
    long size;
    Long declaredSize;
    int mode;
    long uid;
    long gid;
    String uname = "";
    String gname = "";
    long mtime = DEFAULT_MTIME;
    int mtimeNanos;
    long major;
    long minor;
    boolean prefix;
    final Map<String, byte[]> pax = new LinkedHashMap<>();

    Entry(Kind kind, byte[] name) {
      this.kind = kind;
      this.name = name.clone();
      this.mode = kind.defaultMode;
    }

    private String what() {
      return kind.name().toLowerCase(Locale.ROOT) + " '" + Names.display(name) + "'";
    }

    private IllegalArgumentException cannot(String why) {
      return new IllegalArgumentException(
          "the " + format + " format cannot hold " + why + " of the " + what());
    }

    @Override
    public void writeTo(OutputStream out) throws IOException {
      HeaderBlock h = format == Format.GNU ? HeaderBlock.gnu() : HeaderBlock.ustar();
      Map<String, byte[]> derived = new LinkedHashMap<>();
      List<byte[]> before = new ArrayList<>();

      // The name.
      if (prefix || (name.length > 100 && format == Format.USTAR)) {
        int cut = prefixCut(name);
        if (cut < 0) {
          throw new IllegalArgumentException(
              "no slash splits the " + what() + " into a prefix <= 155 and a name <= 100 bytes");
        }
        h.prefix(Arrays.copyOfRange(name, 0, cut));
        h.name(Arrays.copyOfRange(name, cut + 1, name.length));
      } else if (name.length <= 100) {
        h.name(name);
      } else if (format == Format.PAX) {
        derived.put("path", name);
        h.name(Arrays.copyOf(name, 100));
      } else {
        before.add(longLink('L', name));
        h.name(Arrays.copyOf(name, 100));
      }

      // The link target.
      if (link != null) {
        if (link.length <= 100) {
          h.linkName(link);
        } else if (format == Format.PAX) {
          derived.put("linkpath", link);
          h.linkName(Arrays.copyOf(link, 100));
        } else if (format == Format.GNU) {
          before.add(0, longLink('K', link));
          h.linkName(Arrays.copyOf(link, 100));
        } else {
          throw cannot("a link target of " + link.length + " bytes");
        }
      }
      if (derived.containsKey("path") || derived.containsKey("linkpath")) {
        boolean binary =
            (derived.containsKey("path") && !isUtf8(name))
                || (derived.containsKey("linkpath") && !isUtf8(link));
        if (binary) {
          Map<String, byte[]> d = new LinkedHashMap<>();
          d.put("hdrcharset", utf8("BINARY"));
          d.putAll(derived);
          derived = d;
        }
      }

      // The numbers.
      h.mode(mode);
      number(h, TarHeader.Field.UID, "uid", uid, MAX_OCTAL_8, derived);
      number(h, TarHeader.Field.GID, "gid", gid, MAX_OCTAL_8, derived);
      long headerSize = declaredSize != null ? declaredSize : kind == Kind.FILE ? size : 0;
      number(h, TarHeader.Field.SIZE, "size", headerSize, MAX_OCTAL_12, derived);
      if (mtimeNanos != 0) {
        if (format == Format.USTAR) {
          throw cannot("a sub-second mtime");
        }
        derived.put("mtime", utf8(paxTime(mtime, mtimeNanos)));
        h.mtime(mtime >= 0 && mtime <= MAX_OCTAL_12 ? mtime : 0);
      } else {
        number(h, TarHeader.Field.MTIME, "mtime", mtime, MAX_OCTAL_12, derived);
      }
      h.typeflag(kind.typeflag);
      if (kind == Kind.CHAR || kind == Kind.BLOCK) {
        if (format != Format.GNU
            && (major < 0 || major > MAX_OCTAL_8 || minor < 0 || minor > MAX_OCTAL_8)) {
          throw cannot(
              "device numbers " + major + "," + minor + " (use GNU base-256 or HeaderBlock)");
        }
        h.devMajor(major).devMinor(minor);
      }
      name(h, TarHeader.Field.UNAME, "uname", uname, derived);
      name(h, TarHeader.Field.GNAME, "gname", gname, derived);

      // The PAX extended header: derived records, then the caller's.
      Map<String, byte[]> records = new LinkedHashMap<>(derived);
      records.putAll(pax);
      if (!records.isEmpty()) {
        if (format == Format.USTAR) {
          throw cannot("PAX records " + records.keySet());
        }
        byte[] data = paxRecords(records);
        byte[] base = Arrays.copyOfRange(name, lastSlash(name) + 1, name.length);
        byte[] xname = concat(utf8("PaxHeaders/"), Arrays.copyOf(base, Math.min(base.length, 89)));
        HeaderBlock x =
            HeaderBlock.ustar()
                .name(xname)
                .mode(0644)
                .size(data.length)
                .mtime(mtime >= 0 && mtime <= MAX_OCTAL_12 ? mtime : 0)
                .typeflag('x');
        before.add(concat(x.toBytes(), padded(data)));
      }

      for (byte[] b : before) {
        out.write(b);
      }
      out.write(h.toBytes());
      if (kind == Kind.FILE) {
        writeContent(out);
      }
    }

    private void writeContent(OutputStream out) throws IOException {
      if (content != null) {
        writePadded(out, content);
        return;
      }
      byte[] chunk = new byte[65536];
      long done = 0;
      while (done < size) {
        int n = (int) Math.min(chunk.length, size - done);
        for (int i = 0; i < n; i++) {
          chunk[i] = generatedByte(done + i);
        }
        out.write(chunk, 0, n);
        done += n;
      }
      out.write(new byte[(int) ((HeaderBlock.SIZE - size % HeaderBlock.SIZE) % HeaderBlock.SIZE)]);
    }

    private void number(
        HeaderBlock h,
        TarHeader.Field f,
        String key,
        long value,
        long maxOctal,
        Map<String, byte[]> derived) {
      if (value >= 0 && value <= maxOctal) {
        h.number(f, value);
      } else if (format == Format.GNU) {
        h.number(f, value); // base-256
      } else if (format == Format.PAX) {
        derived.put(key, utf8(Long.toString(value)));
        h.number(f, 0);
      } else {
        throw cannot(key + " " + value);
      }
    }

    private void name(
        HeaderBlock h, TarHeader.Field f, String key, String value, Map<String, byte[]> derived) {
      byte[] b = utf8(value);
      if (b.length <= f.length()) {
        h.field(f, b);
      } else if (format == Format.PAX) {
        derived.put(key, b);
        h.field(f, Arrays.copyOf(b, f.length()));
      } else {
        throw cannot("a " + key + " of " + b.length + " bytes");
      }
    }

    private byte[] longLink(char type, byte[] value) {
      byte[] data = Arrays.copyOf(value, value.length + 1); // NUL-terminated, as GNU tar writes
      HeaderBlock l =
          HeaderBlock.gnu()
              .name("././@LongLink")
              .mode(0)
              .uid(0)
              .gid(0)
              .size(data.length)
              .mtime(0)
              .typeflag(type);
      return concat(l.toBytes(), padded(data));
    }
  }

  /** "SEC.NANOS" for a PAX time, with the fraction's trailing zeros dropped. */
  static String paxTime(long seconds, int nanos) {
    if (nanos == 0) {
      return Long.toString(seconds);
    }
    long s = seconds;
    long n = nanos;
    String sign = "";
    if (s < 0) {
      // -1 s + 0.25 s is -0.75 s: "-0.75".
      sign = "-";
      s = -s - 1;
      n = 1_000_000_000L - n;
    }
    String frac = String.format("%09d", n).replaceFirst("0+$", "");
    return sign + s + "." + frac;
  }

  /** The index of the slash to split a name at for the ustar prefix field, or -1. */
  private static int prefixCut(byte[] name) {
    for (int i = name.length - 1; i >= 0; i--) {
      if (name[i] == '/' && name.length - i - 1 <= 100) {
        if (i <= 155 && name.length - i - 1 > 0) {
          return i;
        }
      } else if (name.length - i - 1 > 100) {
        return -1;
      }
    }
    return -1;
  }

  private static int lastSlash(byte[] name) {
    int end = name.length;
    while (end > 0 && name[end - 1] == '/') {
      end--;
    }
    for (int i = end - 1; i >= 0; i--) {
      if (name[i] == '/') {
        return i;
      }
    }
    return -1;
  }

  private static byte[] padded(byte[] data) {
    int len = (data.length + HeaderBlock.SIZE - 1) / HeaderBlock.SIZE * HeaderBlock.SIZE;
    return Arrays.copyOf(data, len);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
