package io.layerd.daemon.containerd;

import io.layerd.sys.IsalDeflater;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * gzip as pigz writes it: the input cut into blocks of {@value #BLOCK} bytes, each deflated on its
 * own thread with the previous block's last {@value #DICTIONARY} bytes as its dictionary (so the
 * ratio is that of one deflate stream at the same level, within a fraction of a percent), ended
 * with a sync flush (so the blocks' outputs join into one deflate stream), and written in order as
 * one gzip member (RFC 1952). A commit's layer of hundreds of megabytes is then compressed on every
 * core instead of one; the bytes differ from a single-threaded deflate's, but are the same for the
 * same input, level and block size whatever the threads' timing, and any gzip reader reads them.
 *
 * <p>The blocks are deflated by Intel ISA-L ({@link IsalDeflater}, levels 1 to 3) or by
 * java.util.zip (levels 0 to 9), as the caller chooses.
 *
 * <p>At most {@code 2 * threads} blocks are in flight; the writing thread waits for the oldest. Not
 * thread-safe (one writer, as any stream); {@link #close} finishes the member and closes the
 * underlying stream.
 */
final class ParallelGzipOutputStream extends OutputStream {
  /** pigz's default block size. */
  static final int BLOCK = 128 * 1024;

  /** deflate's window: what a block may refer back to. */
  static final int DICTIONARY = 32 * 1024;

  /** As java.util.zip.GZIPOutputStream's: deflate, no flags, no time, no extra flags, OS 0. */
  private static final byte[] HEADER = {0x1f, (byte) 0x8b, Deflater.DEFLATED, 0, 0, 0, 0, 0, 0, 0};

  private final OutputStream out;
  private final int maxInFlight;
  private final ExecutorService pool;
  private final ThreadLocal<BlockDeflater> deflater;
  private final ConcurrentLinkedQueue<BlockDeflater> deflaters = new ConcurrentLinkedQueue<>();
  private final ArrayDeque<Future<byte[]>> inFlight = new ArrayDeque<>();
  private final CRC32 crc = new CRC32();
  private byte[] block = new byte[BLOCK];
  private byte[] previous; // the last full block handed to the pool: the next one's dictionary
  private int n;
  private long total;
  private boolean closed;

  /** Deflates one block, or ends the stream with the last; one per thread. */
  private interface BlockDeflater {
    /**
     * The block's deflate data; {@code dictionary}'s last {@value #DICTIONARY} bytes precede it.
     */
    byte[] deflate(byte[] input, int length, byte[] dictionary, boolean last);

    /** Frees its native memory. */
    void end();
  }

  /** With java.util.zip at {@code level} (0 to 9, or {@link Deflater#DEFAULT_COMPRESSION}). */
  ParallelGzipOutputStream(OutputStream out, int level, int threads) throws IOException {
    this(out, false, level, threads);
  }

  /**
   * @param isal whether ISA-L deflates ({@link IsalDeflater#available()} must be true)
   * @param level deflate's level: ISA-L's 1 to 3, or java.util.zip's 0 to 9 (or {@link
   *     Deflater#DEFAULT_COMPRESSION})
   * @param threads how many blocks are deflated at once (at least 1)
   */
  ParallelGzipOutputStream(OutputStream out, boolean isal, int level, int threads)
      throws IOException {
    if (isal) {
      IsalDeflater.create(level)
          .close(); // fails here, not in a thread, if level or library are wrong
    }
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, not " + threads);
    }
    this.out = out;
    this.maxInFlight = 2 * threads;
    this.pool =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "layerd-gzip");
              t.setDaemon(true);
              return t;
            });
    this.deflater =
        ThreadLocal.withInitial(
            () -> {
              BlockDeflater d = isal ? new Isal(level) : new Zlib(level);
              deflaters.add(d);
              return d;
            });
    out.write(HEADER);
  }

  @Override
  public void write(int b) throws IOException {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    if (closed) {
      throw new IOException("write after the gzip stream was closed");
    }
    crc.update(b, off, len);
    total += len;
    while (len > 0) {
      int k = Math.min(len, BLOCK - n);
      System.arraycopy(b, off, block, n, k);
      n += k;
      off += k;
      len -= k;
      if (n == BLOCK) {
        submit(false);
      }
    }
  }

  /** Hands the current block to the pool (the last one finishes the deflate stream). */
  private void submit(boolean last) throws IOException {
    byte[] input = block;
    int length = n;
    byte[] dictionary = previous;
    inFlight.add(pool.submit(() -> deflate(input, length, dictionary, last)));
    previous = input;
    block = new byte[BLOCK];
    n = 0;
    while (inFlight.size() > (last ? 0 : maxInFlight)) {
      out.write(await(inFlight.remove()));
    }
  }

  private byte[] deflate(byte[] input, int length, byte[] dictionary, boolean last) {
    return deflater.get().deflate(input, length, dictionary, last);
  }

  /** ISA-L's deflate. */
  private static final class Isal implements BlockDeflater {
    private final IsalDeflater d;

    Isal(int level) {
      d = IsalDeflater.create(level);
    }

    @Override
    public byte[] deflate(byte[] input, int length, byte[] dictionary, boolean last) {
      return dictionary == null
          ? d.deflate(input, 0, length, null, 0, 0, last)
          : d.deflate(
              input, 0, length, dictionary, dictionary.length - DICTIONARY, DICTIONARY, last);
    }

    @Override
    public void end() {
      d.close();
    }
  }

  /** java.util.zip's deflate. */
  private static final class Zlib implements BlockDeflater {
    private final Deflater d;

    Zlib(int level) {
      d = new Deflater(level, true);
    }

    @Override
    public byte[] deflate(byte[] input, int length, byte[] dictionary, boolean last) {
      d.reset();
      if (dictionary != null) {
        d.setDictionary(dictionary, dictionary.length - DICTIONARY, DICTIONARY);
      }
      d.setInput(input, 0, length);
      byte[] buf = new byte[length + length / 8 + 64];
      int size = 0;
      if (last) {
        d.finish();
      }
      while (true) {
        if (size == buf.length) {
          buf = Arrays.copyOf(buf, buf.length * 2);
        }
        size +=
            d.deflate(buf, size, buf.length - size, last ? Deflater.NO_FLUSH : Deflater.SYNC_FLUSH);
        // Done when finished, or (a sync flush) when the output did not fill the buffer.
        if (last ? d.finished() : size < buf.length) {
          return size == buf.length ? buf : Arrays.copyOf(buf, size);
        }
      }
    }

    @Override
    public void end() {
      d.end();
    }
  }

  private static byte[] await(Future<byte[]> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while compressing");
    } catch (ExecutionException e) {
      throw new IOException("compressing failed: " + e.getCause(), e.getCause());
    }
  }

  /** Writes the rest, the end of the deflate stream and the trailer (CRC-32, size mod 2^32). */
  void finish() throws IOException {
    if (closed) {
      return;
    }
    try {
      submit(true);
      long c = crc.getValue();
      out.write(
          new byte[] {
            (byte) c,
            (byte) (c >>> 8),
            (byte) (c >>> 16),
            (byte) (c >>> 24),
            (byte) total,
            (byte) (total >>> 8),
            (byte) (total >>> 16),
            (byte) (total >>> 24)
          });
    } finally {
      closed = true;
      end();
    }
  }

  /** Stops the pool and frees its deflaters' native memory. */
  private void end() throws IOException {
    for (Future<byte[]> f : inFlight) {
      f.cancel(true);
    }
    inFlight.clear();
    pool.shutdownNow();
    try {
      pool.awaitTermination(1, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while stopping the compressing threads");
    } finally {
      BlockDeflater d;
      while ((d = deflaters.poll()) != null) {
        d.end();
      }
    }
  }

  @Override
  public void flush() throws IOException {
    out.flush();
  }

  @Override
  public void close() throws IOException {
    try {
      finish();
    } finally {
      out.close();
    }
  }
}
