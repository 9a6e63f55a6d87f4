package io.layerd.unpack.internal;

import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.Compression;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A layer's bytes as they stream in: detects the compression, and computes while reading the digest
 * and size of the stream as given (the blob digest) and of the uncompressed tar (the diffID). Call
 * {@link #finish()} after the tar's end: it reads what is left of both streams (the diffID covers
 * any bytes after the end-of-archive blocks) and returns the digests.
 */
public final class LayerStream implements AutoCloseable {
  private final Counting raw;
  private final Counting tar;
  private final Compression compression;

  private LayerStream(InputStream source) throws IOException {
    this.raw = new Counting(source, null);
    raw.keepOpen = true; // closing a decompressor closes what it reads: not the caller's stream
    BufferedInputStream buffered = new BufferedInputStream(raw, 65536);
    this.compression = Compression.detect(buffered);
    InputStream plain;
    try {
      plain = compression.decompress(buffered); // reads the compressed stream's own header
    } catch (IOException e) {
      throw corrupt(compression, raw, e);
    }
    this.tar = new Counting(plain, compression == Compression.NONE ? null : raw);
  }

  /** A decompressor's failure, said plainly (see {@link Decoding#failure}). */
  private static IOException corrupt(Compression c, Counting raw, IOException e) {
    return Decoding.failure(c, raw.count, e);
  }

  /** Wraps a layer's bytes. The caller keeps ownership of {@code source}. */
  public static LayerStream open(InputStream source) throws IOException {
    return new LayerStream(source);
  }

  public Compression compression() {
    return compression;
  }

  /** The uncompressed tar stream. */
  public InputStream tar() {
    return tar;
  }

  /** Reads both streams to their ends and returns what they were. */
  public ApplyResult.Digests finish() throws IOException {
    tar.drain();
    raw.drain();
    String diffId = "sha256:" + HexFormat.of().formatHex(tar.digest.digest());
    String digest = "sha256:" + HexFormat.of().formatHex(raw.digest.digest());
    return new ApplyResult.Digests(compression, digest, raw.count, diffId, tar.count);
  }

  @Override
  public void close() throws IOException {
    if (compression != Compression.NONE) {
      tar.close();
    }
  }

  /** A SHA-256 digest (every JDK has one). */
  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  /**
   * Counts and digests every byte read through it. Over a decompressor ({@code compressed} is the
   * layer's own bytes), its failures are said plainly.
   */
  private final class Counting extends FilterInputStream {
    final MessageDigest digest = sha256();
    final Counting compressed;
    long count;
    boolean keepOpen;

    Counting(InputStream in, Counting compressed) {
      super(in);
      this.compressed = compressed;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n <= 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n;
      try {
        n = super.read(b, off, len);
      } catch (IOException e) {
        throw compressed == null ? e : corrupt(compression, compressed, e);
      }
      if (n > 0) {
        digest.update(b, off, n);
        count += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      byte[] buf = new byte[8192];
      long done = 0;
      while (done < n) {
        int r = read(buf, 0, (int) Math.min(buf.length, n - done));
        if (r < 0) {
          break;
        }
        done += r;
      }
      return done;
    }

    @Override
    public void close() throws IOException {
      if (!keepOpen) {
        super.close();
      }
    }

    @Override
    public boolean markSupported() {
      return false;
    }

    void drain() throws IOException {
      byte[] buf = new byte[65536];
      while (read(buf, 0, buf.length) >= 0) {
        // digest everything that is left
      }
    }
  }
}
