package io.layerd.unpack.internal;

import io.layerd.sys.TarHeader;
import io.layerd.sys.TarHeader.Field;
import io.layerd.unpack.InvalidArchiveException;
import io.layerd.unpack.TarEntry;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads tar entries from an uncompressed stream: V7, ustar (with the prefix field), PAX (local
 * records applied, global headers read and ignored, as containerd and moby do), GNU long names and
 * long link names, and GNU sparse files (old GNU and PAX 0.0, 0.1 and 1.0), whose data segments are
 * given in {@link TarEntry#sparse()}.
 *
 * <p>Why our own reader: commons-compress decodes PAX values as UTF-8 text, which corrupts binary
 * {@code SCHILY.xattr.*} values such as {@code security.capability}; it applies global PAX headers
 * to later entries; and it buffers a PAX record of any size. Here names, link names and xattr
 * values stay bytes, and every special header (PAX, GNU long name) is limited to {@link
 * #MAX_SPECIAL_SIZE} bytes, as Go's archive/tar limits it.
 *
 * <p>Not thread-safe. The stream is read exactly to the end of the archive (the two zero blocks);
 * whatever follows is left unread for the caller.
 */
public final class TarReader {
  /** The largest PAX header or GNU long name accepted: 1 MiB, as Go's archive/tar. */
  public static final int MAX_SPECIAL_SIZE = 1 << 20;

  /** The longest entry name accepted: far beyond any real path, short of an absurd one. */
  public static final int MAX_NAME_LENGTH = 64 * 1024;

  private static final int BLOCK = TarHeader.BLOCK;

  private final InputStream in;
  private final byte[] header = new byte[BLOCK];
  private long position; // bytes consumed from `in`
  private long remaining; // data bytes of the current entry not yet read
  private TarEntry current; // for messages only
  private long currentSize; // the current entry's stored data bytes
  private long padding; // padding after the current entry's data
  private boolean atEnd;

  public TarReader(InputStream in) {
    this.in = in;
  }

  /** Bytes of the uncompressed stream consumed so far. */
  public long position() {
    return position;
  }

  /**
   * The next entry, or null at the end of the archive. Skips whatever is left of the current
   * entry's data.
   */
  public TarEntry next() throws IOException {
    if (atEnd) {
      return null;
    }
    skipRest();
    Map<String, byte[]> pax = null;
    byte[] longName = null;
    byte[] longLink = null;
    while (true) {
      long headerOffset = position;
      if (!readBlock(header, true)) {
        throw new InvalidArchiveException(
            "unexpected end of the stream: the tar has no end-of-archive blocks", position);
      }
      if (isZero(header)) {
        // End of archive: one or two zero blocks. A lone zero block at the very end is accepted.
        byte[] second = new byte[BLOCK];
        if (readBlock(second, true) && !isZero(second)) {
          throw new InvalidArchiveException(
              "a zero block inside the archive is followed by data", headerOffset);
        }
        atEnd = true;
        if (pax != null || longName != null || longLink != null) {
          throw new InvalidArchiveException(
              "the archive ends after an extended header with no entry for it", headerOffset);
        }
        return null;
      }
      verifyChecksum(header, headerOffset);
      byte flag = header[Field.TYPEFLAG.offset()];
      long size = number(header, Field.SIZE, headerOffset);
      if (size < 0) {
        throw new InvalidArchiveException("negative entry size", headerOffset);
      }
      switch (flag) {
        case 'x':
        case 'X':
          pax = mergePax(pax, readPax(readSpecial(size, "PAX header", headerOffset), headerOffset));
          continue;
        case 'g':
          readSpecial(size, "global PAX header", headerOffset); // read and ignored
          continue;
        case 'L':
          longName = trimNul(readSpecial(size, "GNU long name", headerOffset));
          continue;
        case 'K':
          longLink = trimNul(readSpecial(size, "GNU long link name", headerOffset));
          continue;
        case 'M':
        case 'N':
          throw new InvalidArchiveException(
              "unsupported GNU " + (flag == 'M' ? "multi-volume" : "old long name") + " entry",
              headerOffset);
        case 'V':
          skip(padded(size));
          continue;
        default:
          TarEntry t = entry(flag, size, pax, longName, longLink, headerOffset);
          current = t;
          currentSize = remaining;
          return t;
      }
    }
  }

  /**
   * Reads the current entry's stored data (for a sparse file, its data segments back to back).
   * Returns -1 at the end of the entry's data.
   */
  public int read(byte[] buf, int off, int len) throws IOException {
    if (remaining <= 0) {
      return -1;
    }
    int n = in.read(buf, off, (int) Math.min(len, remaining));
    if (n < 0) {
      throw endsInsideData();
    }
    remaining -= n;
    position += n;
    return n;
  }

  /** A piece of an input's bytes held by whoever took it, until released. */
  public interface Piece {
    /** Its length in bytes. */
    int length();
  }

  /**
   * An input that can give its next bytes as a view of its own buffer, without copying them: the
   * apply pipeline's uncompressed tar.
   */
  public interface PieceSource<P extends Piece> {
    /** Up to {@code max} next bytes, held for the caller; null at the end of the input. */
    P slice(int max) throws IOException;
  }

  /**
   * The next piece of the current entry's stored data, at most {@code max} bytes, taken from {@code
   * source} (the very input this reader reads) and held for the caller, who must release it; null
   * at the end of the entry's data. File contents then go to the file without being copied.
   */
  public <P extends Piece> P slice(PieceSource<P> source, int max) throws IOException {
    if (source != in) {
      throw new IllegalArgumentException("slices come from the stream the reader reads");
    }
    if (remaining <= 0) {
      return null;
    }
    P s = source.slice((int) Math.min(max, remaining));
    if (s == null) {
      throw endsInsideData();
    }
    remaining -= s.length();
    position += s.length();
    return s;
  }

  /** The current entry's data as a stream; closing it does nothing. */
  public InputStream content() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] b = new byte[1];
        int n = TarReader.this.read(b, 0, 1);
        return n < 0 ? -1 : b[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        return TarReader.this.read(b, off, len);
      }
    };
  }

  private void skipRest() throws IOException {
    while (remaining > 0) {
      int r = in.read(skipBuf, 0, (int) Math.min(skipBuf.length, remaining));
      if (r < 0) {
        throw endsInsideData();
      }
      remaining -= r;
      position += r;
    }
    skip(padding);
    padding = 0;
  }

  /** The stream ended inside the current entry's data: which entry, and how much is missing. */
  private InvalidArchiveException endsInsideData() {
    return new InvalidArchiveException(
        "the stream ends inside the data of entry '"
            + io.layerd.sys.Names.brief(current.displayName())
            + "' ("
            + (currentSize - remaining)
            + " of its "
            + currentSize
            + " bytes present): the layer is cut short",
        position);
  }

  private TarEntry entry(
      byte flag, long size, Map<String, byte[]> pax, byte[] longName, byte[] longLink, long offset)
      throws IOException {
    int magic = Field.MAGIC.offset();
    boolean ustar =
        header[magic] == 'u'
            && header[magic + 1] == 's'
            && header[magic + 2] == 't'
            && header[magic + 3] == 'a'
            && header[magic + 4] == 'r';
    boolean gnu = ustar && header[magic + 5] == ' ';
    byte[] name = field(header, Field.NAME);
    if (ustar && !gnu) {
      byte[] prefix = field(header, Field.PREFIX);
      if (prefix.length > 0) {
        byte[] joined = Arrays.copyOf(prefix, prefix.length + 1 + name.length);
        joined[prefix.length] = '/';
        System.arraycopy(name, 0, joined, prefix.length + 1, name.length);
        name = joined;
      }
    }
    if (longName != null) {
      name = longName;
    }
    byte[] link = longLink != null ? longLink : field(header, Field.LINKNAME);
    int mode = (int) (number(header, Field.MODE, offset) & 07777);
    long uid = number(header, Field.UID, offset);
    long gid = number(header, Field.GID, offset);
    long mtime = number(header, Field.MTIME, offset);
    int mtimeNs = 0;
    long atime = 0;
    int atimeNs = 0;
    boolean hasAtime = false; // a PAX atime may be negative: no value can mean "none"
    if (gnu) {
      long a = number(header, Field.ATIME, offset);
      if (a > 0) {
        atime = a;
        hasAtime = true;
      }
    }
    String uname = ustar ? new String(field(header, Field.UNAME), StandardCharsets.UTF_8) : "";
    String gname = ustar ? new String(field(header, Field.GNAME), StandardCharsets.UTF_8) : "";
    long devMajor = 0;
    long devMinor = 0;
    if (ustar && (flag == '3' || flag == '4')) {
      devMajor = number(header, Field.DEVMAJOR, offset);
      devMinor = number(header, Field.DEVMINOR, offset);
    }
    Map<String, byte[]> xattrs = new LinkedHashMap<>();
    List<long[]> sparse = null;
    long realSize = -1;
    if (flag == 'S') {
      sparse = new ArrayList<>();
      readOldGnuSparse(sparse, offset);
      realSize = number(header, Field.REALSIZE, offset);
    }
    long storedSize = size;
    if (pax != null) {
      for (Map.Entry<String, byte[]> r : pax.entrySet()) {
        String key = r.getKey();
        byte[] v = r.getValue();
        switch (key) {
          case "path":
            name = v;
            break;
          case "linkpath":
            link = v;
            break;
          case "size":
            storedSize = paxLong(key, v, offset);
            break;
          case "uid":
            uid = paxLong(key, v, offset);
            break;
          case "gid":
            gid = paxLong(key, v, offset);
            break;
          case "uname":
            uname = new String(v, StandardCharsets.UTF_8);
            break;
          case "gname":
            gname = new String(v, StandardCharsets.UTF_8);
            break;
          case "mtime":
            {
              long[] t = paxTime(key, v, offset);
              mtime = t[0];
              mtimeNs = (int) t[1];
              break;
            }
          case "atime":
            {
              long[] t = paxTime(key, v, offset);
              atime = t[0];
              atimeNs = (int) t[1];
              hasAtime = true;
              break;
            }
          case "SCHILY.devmajor":
            devMajor = paxLong(key, v, offset);
            break;
          case "SCHILY.devminor":
            devMinor = paxLong(key, v, offset);
            break;
          default:
            if (key.startsWith("SCHILY.xattr.")) {
              xattrs.put(key.substring("SCHILY.xattr.".length()), v);
            } else if (key.startsWith("LIBARCHIVE.xattr.")) {
              String n =
                  URLDecoder.decode(
                      key.substring("LIBARCHIVE.xattr.".length()), StandardCharsets.UTF_8);
              try {
                xattrs.putIfAbsent(n, Base64.getMimeDecoder().decode(v));
              } catch (IllegalArgumentException e) {
                throw new InvalidArchiveException("bad base64 in PAX record " + key, offset);
              }
            }
            break;
        }
      }
      // GNU sparse formats carried in PAX records.
      byte[] major = pax.get("GNU.sparse.major");
      byte[] minor = pax.get("GNU.sparse.minor");
      byte[] map = pax.get("GNU.sparse.map");
      byte[] sname = pax.get("GNU.sparse.name");
      byte[] rsize = pax.get("GNU.sparse.realsize");
      if (rsize == null) {
        rsize = pax.get("GNU.sparse.size");
      }
      if (sname != null) {
        name = sname;
      }
      boolean v1 =
          major != null && "1".equals(ascii(major)) && minor != null && "0".equals(ascii(minor));
      if (map != null || pax.containsKey("GNU.sparse.offset") || v1) {
        if (rsize == null) {
          throw new InvalidArchiveException("GNU sparse entry without its real size", offset);
        }
        realSize = paxLong("GNU.sparse.realsize", rsize, offset);
        sparse = new ArrayList<>();
        if (map != null) {
          String[] parts = ascii(map).split(",", -1);
          if (parts.length % 2 != 0) {
            throw new InvalidArchiveException("odd GNU.sparse.map", offset);
          }
          for (int i = 0; i + 1 < parts.length; i += 2) {
            sparse.add(
                new long[] {parseDecimal(parts[i], offset), parseDecimal(parts[i + 1], offset)});
          }
        } else if (pax.containsKey("GNU.sparse.offset")) {
          // PAX 0.0 repeats offset/numbytes records; a map of them keeps only the last pair, so
          // read the ordered list we kept.
          sparse.addAll(sparse00(pax, offset));
        }
      }
    }
    if (flag == 'x' || flag == 'g') {
      throw new InvalidArchiveException("misplaced extended header", offset);
    }
    remaining = storedSize;
    padding = padded(storedSize) - storedSize;
    if (sparse != null
        && pax != null
        && "1".equals(ascii(pax.getOrDefault("GNU.sparse.major", new byte[0])))) {
      sparse = readSparse1Map(offset);
    }
    TarEntry.Type type;
    switch (flag) {
      case '0':
      case 0:
      case '7':
        type = TarEntry.Type.FILE;
        if (flag == 0 && name.length > 0 && name[name.length - 1] == '/') {
          type = TarEntry.Type.DIRECTORY;
        }
        break;
      case 'S':
        type = TarEntry.Type.FILE;
        break;
      case '1':
        type = TarEntry.Type.HARDLINK;
        break;
      case '2':
        type = TarEntry.Type.SYMLINK;
        break;
      case '3':
        type = TarEntry.Type.CHAR_DEVICE;
        break;
      case '4':
        type = TarEntry.Type.BLOCK_DEVICE;
        break;
      case '5':
      case 'D':
        type = TarEntry.Type.DIRECTORY;
        break;
      case '6':
        type = TarEntry.Type.FIFO;
        break;
      default:
        type = TarEntry.Type.UNKNOWN;
        break;
    }
    if (name.length > MAX_NAME_LENGTH) {
      throw new InvalidArchiveException(
          "an entry name of " + name.length + " bytes exceeds the limit of " + MAX_NAME_LENGTH,
          offset);
    }
    if (link.length > MAX_NAME_LENGTH) {
      throw new InvalidArchiveException(
          "a link target of " + link.length + " bytes exceeds the limit of " + MAX_NAME_LENGTH,
          offset);
    }
    if (uid < 0 || uid > 0xffffffffL || gid < 0 || gid > 0xffffffffL) {
      throw new InvalidArchiveException(
          "owner " + uid + ":" + gid + " is not a 32-bit unsigned id", offset);
    }
    if (devMajor < 0 || devMajor > 0xffffffffL || devMinor < 0 || devMinor > 0xffffffffL) {
      throw new InvalidArchiveException(
          "device number " + devMajor + "," + devMinor + " is negative or beyond 32 bits", offset);
    }
    long size2 = storedSize;
    if (sparse != null) {
      long stored = 0;
      for (long[] seg : sparse) {
        if (seg[0] < 0 || seg[1] < 0 || seg[0] + seg[1] > realSize || seg[0] + seg[1] < 0) {
          throw new InvalidArchiveException("a GNU sparse segment lies outside the file", offset);
        }
        stored += seg[1];
      }
      if (stored != remaining) {
        throw new InvalidArchiveException(
            "GNU sparse segments hold " + stored + " bytes but the entry stores " + remaining,
            offset);
      }
      size2 = realSize;
    }
    if (!hasAtime) {
      atime = mtime;
      atimeNs = mtimeNs;
    }
    if (type != TarEntry.Type.FILE) {
      // Data of non-files (hardlinks with data, directories of GNU dumpdir) is skipped.
      size2 = type == TarEntry.Type.HARDLINK || type == TarEntry.Type.UNKNOWN ? storedSize : 0;
    }
    return new TarEntry(
        type, name, link, mode, uid, gid, uname, gname, size2, mtime, mtimeNs, atime, atimeNs,
        devMajor, devMinor, xattrs, sparse, offset);
  }

  // ---------------------------------------------------------------- special headers

  private byte[] readSpecial(long size, String what, long offset) throws IOException {
    if (size > MAX_SPECIAL_SIZE) {
      throw new InvalidArchiveException(
          "a " + what + " of " + size + " bytes exceeds the limit of " + MAX_SPECIAL_SIZE, offset);
    }
    byte[] data = new byte[(int) size];
    readFully(data, 0, data.length);
    skip(padded(size) - size);
    return data;
  }

  private static Map<String, byte[]> mergePax(Map<String, byte[]> a, Map<String, byte[]> b) {
    if (a == null) {
      return b;
    }
    a.putAll(b);
    return a;
  }

  /** Parses "LEN KEY=VALUE\n" records; values stay bytes. Repeated sparse records are listed. */
  private Map<String, byte[]> readPax(byte[] data, long offset) throws IOException {
    Map<String, byte[]> out = new LinkedHashMap<>();
    List<byte[]> sparsePairs = new ArrayList<>();
    int pos = 0;
    while (pos < data.length) {
      if (data[pos] == 0) {
        break; // NUL padding
      }
      int sp = pos;
      long len = 0;
      while (sp < data.length && data[sp] >= '0' && data[sp] <= '9') {
        len = len * 10 + (data[sp] - '0');
        if (len > data.length) {
          throw new InvalidArchiveException("a PAX record's length runs past its header", offset);
        }
        sp++;
      }
      if (sp == pos
          || sp >= data.length
          || data[sp] != ' '
          || len <= sp - pos + 1
          || pos + len > data.length
          || data[(int) (pos + len - 1)] != '\n') {
        throw new InvalidArchiveException("a malformed PAX record", offset);
      }
      int end = (int) (pos + len - 1);
      int eq = sp + 1;
      while (eq < end && data[eq] != '=') {
        eq++;
      }
      if (eq >= end || eq == sp + 1) {
        throw new InvalidArchiveException("a PAX record without a key", offset);
      }
      String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
      byte[] value = Arrays.copyOfRange(data, eq + 1, end);
      if (key.equals("GNU.sparse.offset") || key.equals("GNU.sparse.numbytes")) {
        sparsePairs.add(value);
      }
      if (value.length == 0) {
        out.remove(key);
      } else {
        out.put(key, value);
      }
      pos = (int) (pos + len);
    }
    if (!sparsePairs.isEmpty()) {
      ByteArrayOutputStream joined = new ByteArrayOutputStream();
      for (byte[] v : sparsePairs) {
        if (joined.size() > 0) {
          joined.write(',');
        }
        joined.writeBytes(v);
      }
      out.put(SPARSE00, joined.toByteArray());
    }
    return out;
  }

  private static final String SPARSE00 = "layerd.sparse00";

  private static List<long[]> sparse00(Map<String, byte[]> pax, long offset)
      throws InvalidArchiveException {
    List<long[]> out = new ArrayList<>();
    byte[] joined = pax.get(SPARSE00);
    if (joined == null) {
      return out;
    }
    String[] parts = ascii(joined).split(",", -1);
    if (parts.length % 2 != 0) {
      throw new InvalidArchiveException("unpaired GNU.sparse.offset/numbytes records", offset);
    }
    for (int i = 0; i + 1 < parts.length; i += 2) {
      out.add(new long[] {parseDecimal(parts[i], offset), parseDecimal(parts[i + 1], offset)});
    }
    return out;
  }

  /** PAX 1.0 sparse: the map is at the start of the data, decimal lines, padded to a block. */
  private List<long[]> readSparse1Map(long offset) throws IOException {
    List<long[]> out = new ArrayList<>();
    long consumed = 0;
    long[] count = {-1};
    List<Long> numbers = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    byte[] block = new byte[BLOCK];
    while (true) {
      if (remaining < BLOCK) {
        throw new InvalidArchiveException("a truncated GNU sparse 1.0 map", offset);
      }
      readFully(block, 0, BLOCK);
      remaining -= BLOCK;
      consumed += BLOCK;
      if (consumed > MAX_SPECIAL_SIZE) {
        throw new InvalidArchiveException("a GNU sparse 1.0 map over the size limit", offset);
      }
      for (byte b : block) {
        if (b == '\n') {
          numbers.add(parseDecimal(cur.toString(), offset));
          cur.setLength(0);
          if (count[0] < 0) {
            count[0] = numbers.remove(0);
            if (count[0] > MAX_SPECIAL_SIZE) {
              throw new InvalidArchiveException("too many GNU sparse segments", offset);
            }
          }
          if (count[0] >= 0 && numbers.size() == 2 * count[0]) {
            for (int i = 0; i < numbers.size(); i += 2) {
              out.add(new long[] {numbers.get(i), numbers.get(i + 1)});
            }
            return out;
          }
        } else {
          cur.append((char) b);
        }
      }
    }
  }

  private void readOldGnuSparse(List<long[]> out, long offset) throws IOException {
    for (int i = 0; i < TarHeader.SPARSE_IN_HEADER; i++) {
      addSparse(out, header, Field.SPARSE.offset() + i * TarHeader.SPARSE_ENTRY, offset);
    }
    boolean extended = header[Field.IS_EXTENDED.offset()] != 0;
    byte[] ext = new byte[BLOCK];
    while (extended) {
      if (!readBlock(ext, false)) {
        throw new InvalidArchiveException("a truncated GNU sparse header", offset);
      }
      for (int i = 0; i < TarHeader.SPARSE_IN_EXTENSION; i++) {
        addSparse(out, ext, i * TarHeader.SPARSE_ENTRY, offset);
      }
      extended = ext[TarHeader.EXTENSION_IS_EXTENDED] != 0;
    }
  }

  private static void addSparse(List<long[]> out, byte[] b, int at, long offset)
      throws InvalidArchiveException {
    if (b[at] == 0) {
      return;
    }
    long off = parseNumber(b, at, 12, "sparse offset", offset);
    long len = parseNumber(b, at + 12, 12, "sparse length", offset);
    out.add(new long[] {off, len});
  }

  // ---------------------------------------------------------------- numbers and fields

  private static void verifyChecksum(byte[] h, long offset) throws InvalidArchiveException {
    if ((h[Field.CHECKSUM.offset()] & 0x80) != 0) {
      // Base-256 is for sizes, ids and times; a checksum is octal. Random bytes land here.
      throw new InvalidArchiveException(
          "a header's checksum field holds no octal number: the archive is corrupt or not a tar",
          offset);
    }
    long stored =
        parseNumber(h, Field.CHECKSUM.offset(), Field.CHECKSUM.length(), "header checksum", offset);
    // One pass (every header goes through here): the unsigned sum, and the bytes over 0x7f, each
    // of which counts 256 less in the signed sum; the checksum field counts as eight spaces.
    int unsignedSum = 0;
    int high = 0;
    for (int i = 0; i < BLOCK; i++) {
      int b = h[i];
      unsignedSum += b & 0xff;
      high += b >>> 31;
    }
    for (int i = Field.CHECKSUM.offset(); i < Field.CHECKSUM.end(); i++) {
      int b = h[i];
      unsignedSum += ' ' - (b & 0xff);
      high -= b >>> 31;
    }
    long unsigned = unsignedSum;
    long signed = unsignedSum - 256L * high;
    if (stored != unsigned && stored != signed) {
      throw new InvalidArchiveException(
          "header checksum mismatch (stored "
              + stored
              + ", computed "
              + unsigned
              + "): the archive is corrupt or not a tar",
          offset);
    }
  }

  /** Each header field's name in lower case, as failures name it ("devmajor"): made once. */
  private static final Map<Field, String> FIELD_NAMES = fieldNames();

  private static Map<Field, String> fieldNames() {
    Map<Field, String> names = new EnumMap<>(Field.class);
    for (Field f : Field.values()) {
      names.put(f, f.name().toLowerCase(Locale.ROOT));
    }
    return names;
  }

  /** A numeric header field; failures name it in lower case ("devmajor"). */
  private static long number(byte[] h, Field f, long offset) throws InvalidArchiveException {
    return parseNumber(h, f.offset(), f.length(), FIELD_NAMES.get(f), offset);
  }

  private static byte[] field(byte[] b, Field f) {
    return field(b, f.offset(), f.length());
  }

  /** Octal (with NUL/space padding) or GNU base-256 (high bit set). */
  static long parseNumber(byte[] b, int off, int len, String what, long offset)
      throws InvalidArchiveException {
    if ((b[off] & 0x80) != 0) {
      boolean negative = (b[off] & 0x40) != 0;
      long v = negative ? -1 : 0;
      for (int i = 0; i < len; i++) {
        int x = b[off + i] & 0xff;
        if (i == 0) {
          x &= 0x7f;
          if (negative) {
            x |= 0x80;
          }
        }
        if (!negative && (v >>> 55) != 0) {
          throw new InvalidArchiveException("the " + what + " field overflows 64 bits", offset);
        }
        v = (v << 8) | x;
      }
      return v;
    }
    int i = off;
    int end = off + len;
    while (i < end && (b[i] == ' ' || b[i] == 0)) {
      i++;
    }
    long v = 0;
    boolean any = false;
    while (i < end && b[i] >= '0' && b[i] <= '7') {
      if ((v >>> 60) != 0) {
        throw new InvalidArchiveException("the " + what + " field overflows 64 bits", offset);
      }
      v = (v << 3) | (b[i] - '0');
      any = true;
      i++;
    }
    while (i < end) {
      if (b[i] != ' ' && b[i] != 0) {
        throw new InvalidArchiveException("the " + what + " field is not an octal number", offset);
      }
      i++;
    }
    return any ? v : 0;
  }

  private static long paxLong(String key, byte[] v, long offset) throws InvalidArchiveException {
    return parseDecimal(ascii(v), offset, key);
  }

  private static long parseDecimal(String s, long offset) throws InvalidArchiveException {
    return parseDecimal(s, offset, "number");
  }

  private static long parseDecimal(String s, long offset, String what)
      throws InvalidArchiveException {
    try {
      long v = Long.parseLong(s.trim());
      if (v < 0) {
        throw new InvalidArchiveException("negative PAX " + what + ": " + s, offset);
      }
      return v;
    } catch (NumberFormatException e) {
      throw new InvalidArchiveException("PAX " + what + " is not a number: " + s, offset);
    }
  }

  /** A PAX time "SECONDS[.FRACTION]", possibly negative, as {seconds, nanoseconds}. */
  private static long[] paxTime(String key, byte[] v, long offset) throws InvalidArchiveException {
    String s = ascii(v).trim();
    try {
      boolean neg = s.startsWith("-");
      String body = neg ? s.substring(1) : s;
      int dot = body.indexOf('.');
      long sec = Long.parseLong(dot < 0 ? body : body.substring(0, dot));
      long ns = 0;
      if (dot >= 0) {
        String frac = (body.substring(dot + 1) + "000000000").substring(0, 9);
        ns = Long.parseLong(frac);
      }
      if (neg) {
        sec = -sec;
        if (ns > 0) {
          sec -= 1;
          ns = 1_000_000_000L - ns;
        }
      }
      return new long[] {sec, ns};
    } catch (NumberFormatException | IndexOutOfBoundsException e) {
      throw new InvalidArchiveException("PAX " + key + " is not a time: " + s, offset);
    }
  }

  private static String ascii(byte[] v) {
    return new String(v, StandardCharsets.ISO_8859_1);
  }

  private static byte[] field(byte[] b, int off, int len) {
    int end = off;
    while (end < off + len && b[end] != 0) {
      end++;
    }
    return Arrays.copyOfRange(b, off, end);
  }

  private static byte[] trimNul(byte[] b) {
    int end = b.length;
    while (end > 0 && b[end - 1] == 0) {
      end--;
    }
    int firstNul = 0;
    while (firstNul < end && b[firstNul] != 0) {
      firstNul++;
    }
    return Arrays.copyOf(b, firstNul);
  }

  private static boolean isZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private static long padded(long size) {
    return (size + BLOCK - 1) / BLOCK * BLOCK;
  }

  // ---------------------------------------------------------------- raw reading

  /** Reads a block; false on a clean end of stream when allowed. */
  private boolean readBlock(byte[] b, boolean eofOk) throws IOException {
    int n = 0;
    while (n < BLOCK) {
      int r = in.read(b, n, BLOCK - n);
      if (r < 0) {
        if (n == 0 && eofOk) {
          return false;
        }
        throw new InvalidArchiveException("the stream ends inside a tar header", position + n);
      }
      n += r;
    }
    position += BLOCK;
    return true;
  }

  private void readFully(byte[] b, int off, int len) throws IOException {
    int n = 0;
    while (n < len) {
      int r = in.read(b, off + n, len - n);
      if (r < 0) {
        throw new InvalidArchiveException("the stream ends inside an entry", position + n);
      }
      n += r;
    }
    position += len;
  }

  private final byte[] skipBuf = new byte[8192];

  private void skip(long n) throws IOException {
    while (n > 0) {
      int r = in.read(skipBuf, 0, (int) Math.min(skipBuf.length, n));
      if (r < 0) {
        throw new EOFException("the stream ends inside an entry (at byte " + position + ")");
      }
      n -= r;
      position += r;
    }
  }
}
