package io.layerd.unpack.internal;

import io.layerd.unpack.Compression;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.compressors.CompressorInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.apache.commons.compress.utils.InputStreamStatistics;

/**
 * An xz or bzip2 layer decompressed stream after stream, by commons-compress's decoders, each told
 * to stop at the end of its own stream ({@code decompressConcatenated} false) so that where the
 * compressed data ends is known to the byte ({@code getCompressedCount}). The rules, those of
 * {@code xz -d} and {@code bzip2 -d} (and so of GNU tar through them), with the applier's one rule
 * for trailing bytes (ARCHITECTURE.md):
 *
 * <ul>
 *   <li>streams one after another are one layer's data, decompressed in turn; xz's stream padding
 *       (zero bytes, four at a time) between and after streams is skipped;
 *   <li>anything else after a stream is trailing garbage: refused ({@link Decoding#trailing}, with
 *       the byte where the data ends and how many follow; {@code xz -d} refuses it too, {@code
 *       bzip2 -d} warns);
 *   <li>input that ends inside a stream is a stream cut short ({@link Decoding#cutShort});
 *   <li>any other decoder failure is corrupt data ({@link Decoding#corrupt}).
 * </ul>
 *
 * Never reads past the bytes it was given; after trailing garbage it reads them to their end (so
 * that the layer's digest covers them and their count can be said).
 */
public final class StreamSequence extends InputStream {
  private final Compression compression;
  private final Input in;
  private final int xzMemoryLimitKib;
  private CompressorInputStream current;

  /** Compressed bytes of the streams (and padding) before {@link #current}. */
  private long before;

  private boolean done;

  private StreamSequence(Compression compression, InputStream in, int xzMemoryLimitKib) {
    this.compression = compression;
    this.in = new Input(new BufferedInputStream(in, 65536));
    this.xzMemoryLimitKib = xzMemoryLimitKib;
  }

  /**
   * The decompressed bytes of {@code in}, an xz or bzip2 layer from its first byte; xz held to
   * {@code xzMemoryLimitKib} of memory. Reads the first stream's header.
   */
  public static InputStream open(Compression compression, InputStream in, int xzMemoryLimitKib)
      throws IOException {
    if (compression != Compression.XZ && compression != Compression.BZIP2) {
      throw new IllegalArgumentException("not a stream format: " + compression);
    }
    StreamSequence s = new StreamSequence(compression, in, xzMemoryLimitKib);
    s.current = s.decoder();
    return s;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n;
    do {
      n = read(one, 0, 1);
    } while (n == 0);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    while (!done) {
      int n;
      try {
        n = current.read(b, off, len);
      } catch (IOException | RuntimeException e) {
        throw failure(e);
      }
      if (n >= 0) {
        return n;
      }
      before += count(current);
      if (next()) {
        current = decoder();
      } else {
        done = true;
      }
    }
    return -1;
  }

  /**
   * After a stream's end: true when another stream follows (its header not read yet), false at the
   * end of the input; trailing garbage is refused.
   */
  private boolean next() throws IOException {
    byte[] head = new byte[6];
    if (compression == Compression.XZ) {
      while (true) { // stream padding: zero bytes, four at a time
        in.mark(4);
        int n = in.readNBytes(head, 0, 4);
        if (n == 0) {
          return false;
        }
        if (n == 4 && head[0] == 0 && head[1] == 0 && head[2] == 0 && head[3] == 0) {
          before += 4;
          continue;
        }
        in.reset();
        break;
      }
    }
    in.mark(head.length);
    int n = in.readNBytes(head, 0, head.length);
    in.reset();
    if (n == 0) {
      return false;
    }
    if (Compression.detect(head, n) != compression) {
      long trailing = 0;
      byte[] buf = new byte[8192];
      for (int r; (r = in.read(buf, 0, buf.length)) >= 0; ) {
        trailing += r;
      }
      throw Decoding.trailing(compression, before, trailing, null);
    }
    return true;
  }

  private CompressorInputStream decoder() throws IOException {
    try {
      return compression == Compression.XZ
          ? XZCompressorInputStream.builder()
              .setInputStream(in)
              .setDecompressConcatenated(false)
              .setMemoryLimitKiB(xzMemoryLimitKib)
              .get()
          : new BZip2CompressorInputStream(in, false);
    } catch (IOException | RuntimeException e) {
      throw failure(e);
    }
  }

  private static long count(CompressorInputStream s) {
    return ((InputStreamStatistics) s).getCompressedCount();
  }

  /** A decoder's failure said plainly: cut short when it had read the input to its end. */
  private IOException failure(Exception e) {
    if (e instanceof Decoding.Failure f) {
      return f;
    }
    if (Decoding.memoryLimit(e) != null) {
      return Decoding.failure(compression, before, e);
    }
    long at = before + (current == null ? 0 : count(current));
    return in.ended
        ? Decoding.cutShort(compression, in.read, e)
        : Decoding.corrupt(compression, at, e);
  }

  @Override
  public void close() throws IOException {
    in.close();
  }

  /** The input: counts what the decoders took, and knows whether one met its end. */
  private static final class Input extends FilterInputStream {
    long read;
    private long mark;
    boolean ended;

    Input(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b < 0) {
        ended = true;
      } else {
        read++;
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n < 0) {
        ended = true;
      } else {
        read += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long s = super.skip(n);
      read += s;
      return s;
    }

    @Override
    public synchronized void mark(int limit) {
      super.mark(limit);
      mark = read;
    }

    @Override
    public synchronized void reset() throws IOException {
      super.reset();
      read = mark;
      ended = false;
    }
  }
}
