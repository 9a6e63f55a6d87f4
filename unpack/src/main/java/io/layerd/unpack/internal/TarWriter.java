package io.layerd.unpack.internal;

import io.layerd.sys.TarHeader;
import io.layerd.sys.TarHeader.Field;
import io.layerd.unpack.TarEntry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a tar stream: ustar headers, with a PAX header before an entry whenever a field does not
 * fit (names over 100 bytes, ids over 2,097,151, sizes over 8 GiB, xattrs). Names, link targets and
 * xattr values are written as the bytes they are. Not thread-safe.
 */
public final class TarWriter implements AutoCloseable {
  private static final int BLOCK = TarHeader.BLOCK;
  private final OutputStream out;
  private long written;
  private long pendingData;
  private boolean closed;

  public TarWriter(OutputStream out) {
    this.out = out;
  }

  /** One entry's header fields. {@code size} is the data that must follow for a FILE. */
  public record Header(
      TarEntry.Type type,
      byte[] name,
      byte[] linkName,
      int mode,
      long uid,
      long gid,
      long size,
      long mtimeSec,
      long devMajor,
      long devMinor,
      Map<String, byte[]> xattrs) {}

  /**
   * Writes a header; for a FILE, {@link #writeData} must then supply exactly {@code size} bytes.
   */
  public void writeHeader(Header h) throws IOException {
    if (pendingData != 0) {
      throw new IllegalStateException("the previous entry's data is incomplete");
    }
    Map<String, byte[]> pax = new LinkedHashMap<>();
    byte[] name = h.name();
    if (h.type() == TarEntry.Type.DIRECTORY && (name.length == 0 || name[name.length - 1] != '/')) {
      name = Arrays.copyOf(name, name.length + 1);
      name[name.length - 1] = '/';
    }
    if (name.length > Field.NAME.length()) {
      pax.put("path", name);
    }
    if (h.linkName().length > Field.LINKNAME.length()) {
      pax.put("linkpath", h.linkName());
    }
    if (h.uid() > 07777777) {
      pax.put("uid", ascii(Long.toString(h.uid())));
    }
    if (h.gid() > 07777777) {
      pax.put("gid", ascii(Long.toString(h.gid())));
    }
    long size = h.type() == TarEntry.Type.FILE ? h.size() : 0;
    if (size > 077777777777L) {
      pax.put("size", ascii(Long.toString(size)));
    }
    for (Map.Entry<String, byte[]> x : h.xattrs().entrySet()) {
      pax.put("SCHILY.xattr." + x.getKey(), x.getValue());
    }
    if (!pax.isEmpty()) {
      byte[] records = paxRecords(pax);
      byte[] ph =
          header(
              (byte) 'x',
              ascii("PaxHeader"),
              new byte[0],
              0644,
              0,
              0,
              records.length,
              h.mtimeSec(),
              0,
              0);
      out.write(ph);
      out.write(records);
      pad(records.length);
      written += BLOCK + padded(records.length);
    }
    byte flag;
    switch (h.type()) {
      case FILE:
        flag = '0';
        break;
      case HARDLINK:
        flag = '1';
        break;
      case SYMLINK:
        flag = '2';
        break;
      case CHAR_DEVICE:
        flag = '3';
        break;
      case BLOCK_DEVICE:
        flag = '4';
        break;
      case DIRECTORY:
        flag = '5';
        break;
      case FIFO:
        flag = '6';
        break;
      default:
        throw new IllegalArgumentException("cannot write an entry of type " + h.type());
    }
    out.write(
        header(
            flag,
            name.length > Field.NAME.length() ? Arrays.copyOf(name, Field.NAME.length()) : name,
            h.linkName().length > Field.LINKNAME.length()
                ? Arrays.copyOf(h.linkName(), Field.LINKNAME.length())
                : h.linkName(),
            h.mode(),
            Math.min(h.uid(), 07777777),
            Math.min(h.gid(), 07777777),
            Math.min(size, 077777777777L),
            h.mtimeSec(),
            h.devMajor(),
            h.devMinor()));
    written += BLOCK;
    pendingData = size;
  }

  /** Writes the current FILE entry's data from a stream, exactly its size. */
  public void writeData(InputStream in) throws IOException {
    byte[] buf = new byte[65536];
    long size = pendingData;
    while (pendingData > 0) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, pendingData));
      if (n < 0) {
        throw new IOException(
            "the file shrank while it was being written: " + pendingData + " bytes missing");
      }
      out.write(buf, 0, n);
      pendingData -= n;
    }
    pad(size);
    written += padded(size);
  }

  /** Bytes written so far. */
  public long written() {
    return written;
  }

  /** Writes the two end-of-archive blocks and flushes (the output stays open). */
  public void finish() throws IOException {
    if (!closed) {
      if (pendingData != 0) {
        throw new IllegalStateException("the last entry's data is incomplete");
      }
      out.write(new byte[2 * BLOCK]);
      written += 2 * BLOCK;
      out.flush();
      closed = true;
    }
  }

  @Override
  public void close() throws IOException {
    finish();
  }

  private void pad(long size) throws IOException {
    int p = (int) (padded(size) - size);
    if (p > 0) {
      out.write(new byte[p]);
    }
  }

  private static long padded(long n) {
    return (n + BLOCK - 1) / BLOCK * BLOCK;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /** "LEN KEY=VALUE\n" records, LEN counting itself. */
  static byte[] paxRecords(Map<String, byte[]> pax) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (Map.Entry<String, byte[]> e : pax.entrySet()) {
      byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
      int body = 1 + key.length + 1 + e.getValue().length + 1; // ' ' key '=' value '\n'
      int len = body + 1;
      while (len != body + Integer.toString(len).length()) {
        len = body + Integer.toString(len).length();
      }
      b.writeBytes(ascii(Integer.toString(len)));
      b.write(' ');
      b.writeBytes(key);
      b.write('=');
      b.writeBytes(e.getValue());
      b.write('\n');
    }
    return b.toByteArray();
  }

  private static byte[] header(
      byte flag,
      byte[] name,
      byte[] link,
      int mode,
      long uid,
      long gid,
      long size,
      long mtime,
      long devMajor,
      long devMinor) {
    byte[] h = new byte[BLOCK];
    put(h, Field.NAME, name);
    octal(h, Field.MODE, mode & 07777);
    octal(h, Field.UID, uid);
    octal(h, Field.GID, gid);
    octal(h, Field.SIZE, size);
    octal(h, Field.MTIME, Math.max(0, Math.min(mtime, 077777777777L)));
    h[Field.TYPEFLAG.offset()] = flag;
    put(h, Field.LINKNAME, link);
    put(h, Field.MAGIC, ascii(TarHeader.USTAR_MAGIC));
    put(h, Field.VERSION, ascii(TarHeader.USTAR_VERSION));
    if (flag == '3' || flag == '4') {
      octal(h, Field.DEVMAJOR, devMajor);
      octal(h, Field.DEVMINOR, devMinor);
    }
    TarHeader.putChecksum(h, TarHeader.checksum(h));
    return h;
  }

  /** As much of {@code value} as the field holds. */
  private static void put(byte[] h, Field f, byte[] value) {
    System.arraycopy(value, 0, h, f.offset(), Math.min(f.length(), value.length));
  }

  /** Zero-padded octal in length-1 digits and a NUL. */
  private static void octal(byte[] h, Field f, long v) {
    if (!TarHeader.octal(h, f, v)) {
      throw new IllegalArgumentException(
          "value " + v + " does not fit the " + f.length() + "-byte " + f + " field");
    }
  }
}
