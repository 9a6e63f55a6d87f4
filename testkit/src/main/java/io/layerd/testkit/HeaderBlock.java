package io.layerd.testkit;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * One 512-byte tar header block, field by field, for hand-crafting archives that no writer would
 * produce: bad checksums, negative or huge device numbers, a size that lies, odd magic. Append the
 * result with {@link TarBuilder#raw(byte[])}. {@link TarBuilder} writes all its own headers through
 * this class too.
 *
 * <pre>{@code
 * byte[] evil = HeaderBlock.ustar().name("dev/x").typeflag('3').devMajor(-1).toBytes();
 * byte[] corrupt = HeaderBlock.ustar().name("f").typeflag('0').badChecksum().toBytes();
 * }</pre>
 *
 * <p>Numeric setters write {@code length-1} zero-padded octal digits and a NUL, the way GNU tar
 * does, and switch to GNU base-256 (first byte 0x80, or 0xff for a negative value, then the value
 * big-endian in two's complement) when the value does not fit. {@link #field} writes any bytes into
 * any field. The checksum is computed in {@link #toBytes()} unless {@link #checksum} or {@link
 * #badChecksum} set it. A mutable builder; not thread-safe.
 */
public final class HeaderBlock {
  /** The size of a tar block. */
  public static final int SIZE = 512;

  /**
   * The fields of a POSIX ustar header: offset and length (POSIX.1-2001, pax "ustar Interchange
   * Format").
   */
  public enum Field {
    NAME(0, 100),
    MODE(100, 8),
    UID(108, 8),
    GID(116, 8),
    SIZE(124, 12),
    MTIME(136, 12),
    CHECKSUM(148, 8),
    TYPEFLAG(156, 1),
    LINKNAME(157, 100),
    MAGIC(257, 6),
    VERSION(263, 2),
    UNAME(265, 32),
    GNAME(297, 32),
    DEVMAJOR(329, 8),
    DEVMINOR(337, 8),
    PREFIX(345, 155);

    private final int offset;
    private final int length;

    Field(int offset, int length) {
      this.offset = offset;
      this.length = length;
    }

    /** The field's offset in the block. */
    public int offset() {
      return offset;
    }

    /** The field's length in bytes. */
    public int length() {
      return length;
    }
  }

  private final byte[] block = new byte[SIZE];
  private Long checksum;

  private HeaderBlock() {}

  /** A POSIX ustar header (magic {@code "ustar\0"}, version {@code "00"}), all else zero. */
  public static HeaderBlock ustar() {
    return new HeaderBlock()
        .field(Field.MAGIC, "ustar\0".getBytes(StandardCharsets.US_ASCII))
        .field(Field.VERSION, "00".getBytes(StandardCharsets.US_ASCII));
  }

  /** A GNU header (magic {@code "ustar "}, version {@code " \0"}), all else zero. */
  public static HeaderBlock gnu() {
    return new HeaderBlock()
        .field(Field.MAGIC, "ustar ".getBytes(StandardCharsets.US_ASCII))
        .field(Field.VERSION, " \0".getBytes(StandardCharsets.US_ASCII));
  }

  /** An old (v7) header: no magic, all zero. */
  public static HeaderBlock v7() {
    return new HeaderBlock();
  }

  /** Writes raw bytes into a field, NUL-padded; fails when they are longer than the field. */
  public HeaderBlock field(Field f, byte[] value) {
    if (value.length > f.length) {
      throw new IllegalArgumentException(f + " holds " + f.length + " bytes, not " + value.length);
    }
    Arrays.fill(block, f.offset, f.offset + f.length, (byte) 0);
    System.arraycopy(value, 0, block, f.offset, value.length);
    return this;
  }

  /** Writes a number into a field: octal when it fits, else base-256. */
  public HeaderBlock number(Field f, long value) {
    byte[] b = new byte[f.length];
    int digits = f.length - 1;
    if (value >= 0 && (digits >= 21 || value < 1L << (3 * digits))) {
      String s = Long.toOctalString(value);
      byte[] d = ("0".repeat(digits - s.length()) + s).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(d, 0, b, 0, digits);
    } else {
      int bits = 8 * (f.length - 1);
      if (bits < 63 && (value >= 1L << bits || value < -(1L << bits))) {
        throw new IllegalArgumentException(
            value + " does not fit the " + f + " field even in base-256");
      }
      long v = value;
      for (int i = f.length - 1; i >= 1; i--) {
        b[i] = (byte) v;
        v >>= 8;
      }
      b[0] = (byte) (value < 0 ? 0xff : 0x80);
    }
    return field(f, b);
  }

  /** The name field (at most 100 bytes). */
  public HeaderBlock name(byte[] name) {
    return field(Field.NAME, name);
  }

  /** The name field, UTF-8. */
  public HeaderBlock name(String name) {
    return name(name.getBytes(StandardCharsets.UTF_8));
  }

  /** The ustar prefix field (at most 155 bytes): the full name is {@code prefix + "/" + name}. */
  public HeaderBlock prefix(byte[] prefix) {
    return field(Field.PREFIX, prefix);
  }

  /** The link name field (at most 100 bytes). */
  public HeaderBlock linkName(byte[] target) {
    return field(Field.LINKNAME, target);
  }

  /** The link name field, UTF-8. */
  public HeaderBlock linkName(String target) {
    return linkName(target.getBytes(StandardCharsets.UTF_8));
  }

  /** The mode field (permission bits, octal). */
  public HeaderBlock mode(long mode) {
    return number(Field.MODE, mode);
  }

  /** The uid field. */
  public HeaderBlock uid(long uid) {
    return number(Field.UID, uid);
  }

  /** The gid field. */
  public HeaderBlock gid(long gid) {
    return number(Field.GID, gid);
  }

  /** The size field (which may lie about the data that follows). */
  public HeaderBlock size(long size) {
    return number(Field.SIZE, size);
  }

  /** The mtime field, in seconds since the epoch. */
  public HeaderBlock mtime(long seconds) {
    return number(Field.MTIME, seconds);
  }

  /** The typeflag, e.g. {@code '0'} file, {@code '5'} directory, {@code 'x'} pax header. */
  public HeaderBlock typeflag(char type) {
    return field(Field.TYPEFLAG, new byte[] {(byte) type});
  }

  /** The user name field (at most 32 bytes, UTF-8). */
  public HeaderBlock uname(String name) {
    return field(Field.UNAME, name.getBytes(StandardCharsets.UTF_8));
  }

  /** The group name field (at most 32 bytes, UTF-8). */
  public HeaderBlock gname(String name) {
    return field(Field.GNAME, name.getBytes(StandardCharsets.UTF_8));
  }

  /** The device major field (negative and huge values become base-256). */
  public HeaderBlock devMajor(long major) {
    return number(Field.DEVMAJOR, major);
  }

  /** The device minor field (negative and huge values become base-256). */
  public HeaderBlock devMinor(long minor) {
    return number(Field.DEVMINOR, minor);
  }

  /** Forces the checksum field to this value instead of the computed one. */
  public HeaderBlock checksum(long value) {
    this.checksum = value;
    return this;
  }

  /** Forces a checksum that is off by one. */
  public HeaderBlock badChecksum() {
    this.checksum = computeChecksum() + 1;
    return this;
  }

  /** The sum of the block's bytes, unsigned, with the checksum field counted as spaces. */
  public long computeChecksum() {
    long sum = 0;
    for (int i = 0; i < SIZE; i++) {
      boolean inField =
          i >= Field.CHECKSUM.offset && i < Field.CHECKSUM.offset + Field.CHECKSUM.length;
      sum += inField ? ' ' : block[i] & 0xff;
    }
    return sum;
  }

  /** The finished 512-byte block, checksum included (six octal digits, NUL, space). */
  public byte[] toBytes() {
    long sum = checksum == null ? computeChecksum() : checksum;
    String s = Long.toOctalString(sum);
    if (s.length() < 6) {
      s = "0".repeat(6 - s.length()) + s;
    }
    byte[] out = block.clone();
    byte[] c = (s + "\0 ").getBytes(StandardCharsets.US_ASCII);
    Arrays.fill(
        out, Field.CHECKSUM.offset, Field.CHECKSUM.offset + Field.CHECKSUM.length, (byte) 0);
    System.arraycopy(c, 0, out, Field.CHECKSUM.offset, Math.min(c.length, Field.CHECKSUM.length));
    return out;
  }
}
