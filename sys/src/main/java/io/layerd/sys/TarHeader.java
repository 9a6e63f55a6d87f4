package io.layerd.sys;

/**
 * The layout of a tar header block, written down once: the reader and writer in unpack and the test
 * archives of testkit all place and find fields here. (It lives in sys, below both, because testkit
 * may not depend on unpack.)
 *
 * <p>The POSIX ustar fields are POSIX.1-2001's "ustar Interchange Format"; the GNU fields ({@link
 * Field#ATIME}, {@link Field#CTIME}, the old sparse map) overlay the ustar prefix in GNU tar's
 * format ({@code magic "ustar "}, {@code version " \0"}).
 */
public final class TarHeader {
  /** The size of a tar block, and of every header. */
  public static final int BLOCK = 512;

  /** One entry of a GNU sparse map: offset and length, 12 octal bytes each. */
  public static final int SPARSE_ENTRY = 24;

  /** The sparse entries in an old GNU header ({@link Field#SPARSE}). */
  public static final int SPARSE_IN_HEADER = 4;

  /** The sparse entries in a GNU sparse extension block. */
  public static final int SPARSE_IN_EXTENSION = 21;

  /** Where a GNU sparse extension block says whether another follows. */
  public static final int EXTENSION_IS_EXTENDED = SPARSE_IN_EXTENSION * SPARSE_ENTRY;

  /** The fields of a header block: offset and length. */
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
    /** ustar only: the name is {@code prefix + "/" + name}. */
    PREFIX(345, 155),
    /** GNU only, over the ustar prefix. */
    ATIME(345, 12),
    /** GNU only, over the ustar prefix. */
    CTIME(357, 12),
    /** GNU only: the old sparse map, {@link #SPARSE_IN_HEADER} entries. */
    SPARSE(386, SPARSE_IN_HEADER * SPARSE_ENTRY),
    /** GNU only: non-zero when a sparse extension block follows. */
    IS_EXTENDED(482, 1),
    /** GNU only: the expanded size of a sparse file. */
    REALSIZE(483, 12);

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

    /** The offset just after the field. */
    public int end() {
      return offset + length;
    }
  }

  /** POSIX ustar's magic, {@code "ustar\0"}, then its version {@code "00"}. */
  public static final String USTAR_MAGIC = "ustar\0";

  public static final String USTAR_VERSION = "00";

  /** GNU tar's magic, {@code "ustar "}, then its version {@code " \0"}. */
  public static final String GNU_MAGIC = "ustar ";

  public static final String GNU_VERSION = " \0";

  private TarHeader() {}

  /** The sum of a block's bytes, unsigned, with the checksum field counted as spaces. */
  public static long checksum(byte[] block) {
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      boolean inField = i >= Field.CHECKSUM.offset && i < Field.CHECKSUM.end();
      sum += inField ? ' ' : block[i] & 0xff;
    }
    return sum;
  }

  /**
   * Writes a checksum the way tar writers do: six zero-padded octal digits, a NUL and a space (a
   * value over six digits, possible only for a forged checksum, takes the digits it needs).
   */
  public static void putChecksum(byte[] block, long sum) {
    String s = Long.toOctalString(sum);
    if (s.length() < 6) {
      s = "0".repeat(6 - s.length()) + s;
    }
    s += "\0 ";
    for (int i = 0; i < Field.CHECKSUM.length; i++) {
      block[Field.CHECKSUM.offset + i] = i < s.length() ? (byte) s.charAt(i) : 0;
    }
  }

  /**
   * Writes {@code value} into a field as {@code length-1} zero-padded octal digits and a NUL, the
   * way GNU tar does; returns false, writing nothing, when it does not fit (or is negative).
   */
  public static boolean octal(byte[] block, Field f, long value) {
    int digits = f.length - 1;
    if (value < 0 || (digits < 21 && value >= 1L << (3 * digits))) {
      return false;
    }
    String s = Long.toOctalString(value);
    for (int i = 0; i < digits; i++) {
      int at = i - (digits - s.length());
      block[f.offset + i] = at < 0 ? (byte) '0' : (byte) s.charAt(at);
    }
    block[f.offset + digits] = 0;
    return true;
  }
}
