package io.layerd.testkit;

import io.layerd.sys.TarHeader;
import io.layerd.sys.TarHeader.Field;
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
  public static final int SIZE = TarHeader.BLOCK;

  private final byte[] block = new byte[SIZE];
  private Long checksum;

  private HeaderBlock() {}

  /** A POSIX ustar header (magic {@code "ustar\0"}, version {@code "00"}), all else zero. */
  public static HeaderBlock ustar() {
    return new HeaderBlock()
        .field(Field.MAGIC, TarHeader.USTAR_MAGIC.getBytes(StandardCharsets.US_ASCII))
        .field(Field.VERSION, TarHeader.USTAR_VERSION.getBytes(StandardCharsets.US_ASCII));
  }

  /** A GNU header (magic {@code "ustar "}, version {@code " \0"}), all else zero. */
  public static HeaderBlock gnu() {
    return new HeaderBlock()
        .field(Field.MAGIC, TarHeader.GNU_MAGIC.getBytes(StandardCharsets.US_ASCII))
        .field(Field.VERSION, TarHeader.GNU_VERSION.getBytes(StandardCharsets.US_ASCII));
  }

  /** An old (v7) header: no magic, all zero. */
  public static HeaderBlock v7() {
    return new HeaderBlock();
  }

  /** Writes raw bytes into a field, NUL-padded; fails when they are longer than the field. */
  public HeaderBlock field(Field f, byte[] value) {
    if (value.length > f.length()) {
      throw new IllegalArgumentException(
          f + " holds " + f.length() + " bytes, not " + value.length);
    }
    Arrays.fill(block, f.offset(), f.offset() + f.length(), (byte) 0);
    System.arraycopy(value, 0, block, f.offset(), value.length);
    return this;
  }

  /** Writes a number into a field: octal when it fits, else base-256. */
  public HeaderBlock number(Field f, long value) {
    Arrays.fill(block, f.offset(), f.end(), (byte) 0);
    if (TarHeader.octal(block, f, value)) {
      return this;
    }
    int bits = 8 * (f.length() - 1);
    if (bits < 63 && (value >= 1L << bits || value < -(1L << bits))) {
      throw new IllegalArgumentException(
          value + " does not fit the " + f + " field even in base-256");
    }
    byte[] b = new byte[f.length()];
    long v = value;
    for (int i = f.length() - 1; i >= 1; i--) {
      b[i] = (byte) v;
      v >>= 8;
    }
    b[0] = (byte) (value < 0 ? 0xff : 0x80);
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
    return TarHeader.checksum(block);
  }

  /** The finished 512-byte block, checksum included (six octal digits, NUL, space). */
  public byte[] toBytes() {
    byte[] out = block.clone();
    TarHeader.putChecksum(out, checksum == null ? computeChecksum() : checksum);
    return out;
  }
}
