package io.layerd.bench;

import com.github.luben.zstd.ZstdDecompressCtx;
import io.layerd.sys.IsalInflater;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The decompression-only bound, in process: the reference layer decompressed into a buffer that is
 * thrown away (no digest, no tar). {@code gzip-isal} is Intel ISA-L through sys (what the applier
 * uses when libisal is installed), {@code gzip-zlib} java.util.zip (its fallback), {@code zstd}
 * zstd-jni; {@code tar-read} only reads the plain tar.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 7)
@Fork(
    value = 1,
    jvmArgsAppend = {"-XX:+UseSerialGC"})
public class DecompressBench {
  @Param({"gzip-isal", "gzip-zlib", "zstd", "tar-read"})
  public String codec;

  private Path file;
  private final ByteBuffer in = ByteBuffer.allocateDirect(256 * 1024);
  private final ByteBuffer out = ByteBuffer.allocateDirect(256 * 1024);
  private final byte[] heap = new byte[256 * 1024];

  @Setup
  public void setUp() throws IOException {
    file =
        BenchData.layer(codec.startsWith("gzip") ? "gzip" : codec.equals("zstd") ? "zstd" : "tar");
    if (codec.equals("gzip-isal") && !IsalInflater.available()) {
      throw new IllegalStateException("ISA-L: " + IsalInflater.unavailableReason());
    }
  }

  /** Bytes out. */
  @Benchmark
  public long decompress() throws IOException {
    try (FileChannel ch = FileChannel.open(file)) {
      switch (codec) {
        case "gzip-isal":
          return isal(ch);
        case "gzip-zlib":
          return zlib(ch);
        case "zstd":
          return zstd(ch);
        default:
          return read(ch);
      }
    }
  }

  private long read(FileChannel ch) throws IOException {
    long n = 0;
    while (true) {
      in.clear();
      int r = ch.read(in);
      if (r < 0) {
        return n;
      }
      n += r;
    }
  }

  private boolean refill(FileChannel ch) throws IOException {
    in.compact();
    int r = ch.read(in);
    in.flip();
    return r > 0;
  }

  private int u8(FileChannel ch) throws IOException {
    if (!in.hasRemaining() && !refill(ch)) {
      throw new EOFException();
    }
    return in.get() & 0xff;
  }

  /** Skips a gzip member header (RFC 1952); false at the end of the input. */
  private boolean header(FileChannel ch) throws IOException {
    if (!in.hasRemaining() && !refill(ch)) {
      return false;
    }
    if (u8(ch) != 0x1f || u8(ch) != 0x8b || u8(ch) != 8) {
      throw new IOException("not a gzip member");
    }
    int flags = u8(ch);
    for (int i = 0; i < 6; i++) {
      u8(ch);
    }
    if ((flags & 4) != 0) {
      int len = u8(ch) | u8(ch) << 8;
      for (int i = 0; i < len; i++) {
        u8(ch);
      }
    }
    for (int bit : new int[] {8, 16}) {
      if ((flags & bit) != 0) {
        while (u8(ch) != 0) {
          // name or comment
        }
      }
    }
    if ((flags & 2) != 0) {
      u8(ch);
      u8(ch);
    }
    return true;
  }

  private long isal(FileChannel ch) throws IOException {
    in.clear().limit(0);
    long n = 0;
    try (IsalInflater inf = IsalInflater.create()) {
      while (header(ch)) {
        inf.startMember();
        while (true) {
          out.clear();
          boolean done = inf.inflate(in, out);
          n += out.position();
          if (done) {
            break;
          }
          if (!in.hasRemaining() && !refill(ch)) {
            throw new EOFException("the gzip member is cut short");
          }
        }
      }
    }
    return n;
  }

  private long zlib(FileChannel ch) throws IOException {
    long n = 0;
    try (InputStream gz = new GZIPInputStream(Channels.newInputStream(ch), 65536)) {
      int r;
      while ((r = gz.read(heap)) >= 0) {
        n += r;
      }
    }
    return n;
  }

  private long zstd(FileChannel ch) throws IOException {
    in.clear().limit(0);
    long n = 0;
    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
      boolean eof = false;
      while (true) {
        if (!in.hasRemaining() && !eof) {
          eof = !refill(ch);
        }
        out.clear();
        ctx.decompressDirectByteBufferStream(out, in);
        n += out.position();
        if (eof && !in.hasRemaining() && out.position() == 0) {
          return n;
        }
      }
    }
  }
}
