package io.layerd.unpack;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import io.layerd.unpack.internal.StreamSequence;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;

/** Layer compression, recognised by magic bytes and never by a file name. */
public enum Compression {
  NONE("tar"),
  GZIP("gzip"),
  ZSTD("zstd"),
  XZ("xz"),
  BZIP2("bzip2");

  private final String label;

  Compression(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  /** The compression of a stream, read from its first bytes (mark/reset must be supported). */
  public static Compression detect(InputStream in) throws IOException {
    if (!in.markSupported()) {
      throw new IllegalArgumentException("detect needs a stream that supports mark");
    }
    byte[] m = new byte[6];
    in.mark(m.length);
    int n = 0;
    while (n < m.length) {
      int r = in.read(m, n, m.length - n);
      if (r < 0) {
        break;
      }
      n += r;
    }
    in.reset();
    return detect(m, n);
  }

  /** The compression named by the first {@code n} bytes of a stream. */
  public static Compression detect(byte[] m, int n) {
    if (n >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b) {
      return GZIP;
    }
    if (n >= 4
        && (m[0] & 0xff) == 0x28
        && (m[1] & 0xff) == 0xb5
        && (m[2] & 0xff) == 0x2f
        && (m[3] & 0xff) == 0xfd) {
      return ZSTD;
    }
    // A zstd stream may open with a skippable frame: magic 0x184D2A50..0x184D2A5F, little-endian.
    if (n >= 4
        && (m[0] & 0xf0) == 0x50
        && (m[1] & 0xff) == 0x2a
        && (m[2] & 0xff) == 0x4d
        && (m[3] & 0xff) == 0x18) {
      return ZSTD;
    }
    if (n >= 6
        && (m[0] & 0xff) == 0xfd
        && m[1] == '7'
        && m[2] == 'z'
        && m[3] == 'X'
        && m[4] == 'Z'
        && m[5] == 0) {
      return XZ;
    }
    if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') {
      return BZIP2;
    }
    return NONE;
  }

  /**
   * A stream of the decompressed bytes (every member, frame or stream, to the end of the input; xz
   * and bzip2 refuse trailing garbage, see {@link StreamSequence}).
   */
  public InputStream decompress(InputStream in) throws IOException {
    switch (this) {
      case GZIP:
        return new GZIPInputStream(in, 65536);
      case ZSTD:
        ZstdInputStreamNoFinalizer z = new ZstdInputStreamNoFinalizer(in);
        z.setContinuous(false);
        return new BufferedInputStream(z, 131072);
      case XZ:
      case BZIP2:
        return new BufferedInputStream(StreamSequence.open(this, in, XZ_MEMORY_LIMIT_KIB), 65536);
      case NONE:
      default:
        return in;
    }
  }

  /**
   * The memory an xz stream may ask for to be decompressed, in KiB: 256 MiB. xz's largest preset
   * (-9, a 64 MiB dictionary) needs 65 MiB; a stream can declare up to a 1.5 GiB dictionary in a
   * few bytes, which would be allocated before anything is read.
   */
  static final int XZ_MEMORY_LIMIT_KIB = 256 << 10;
}
