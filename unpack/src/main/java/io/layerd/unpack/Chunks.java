package io.layerd.unpack;

import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The buffers the apply pipeline passes between its threads: a fixed number of direct buffers per
 * apply (so that memory stays bounded whatever the layer's size), each shared by reference count
 * between the digest, the tar reader and the writers of the files whose bytes it holds.
 */
final class Chunks {
  /** The size of one chunk: what one inflate call fills and one write(2) writes at most. */
  static final int SIZE = 256 * 1024;

  /** Buffers kept between applies (a process applies layer after layer). */
  private static final int CACHED = 64;

  private static final ConcurrentLinkedQueue<ByteBuffer> CACHE = new ConcurrentLinkedQueue<>();
  private static final AtomicInteger CACHE_SIZE = new AtomicInteger();

  private final ArrayBlockingQueue<Chunk> free;
  private final Chunk[] all;
  private final BooleanSupplier cancelled;

  /** A pool of {@code count} chunks; {@link #take} gives up when {@code cancelled} says so. */
  Chunks(int count, BooleanSupplier cancelled) {
    this.free = new ArrayBlockingQueue<>(count);
    this.all = new Chunk[count];
    this.cancelled = cancelled;
    for (int i = 0; i < count; i++) {
      all[i] = new Chunk(this, buffer());
      free.add(all[i]);
    }
  }

  static ByteBuffer buffer() {
    ByteBuffer b = CACHE.poll();
    if (b == null) {
      return ByteBuffer.allocateDirect(SIZE);
    }
    CACHE_SIZE.decrementAndGet();
    return b.clear();
  }

  static void recycle(ByteBuffer b) {
    if (CACHE_SIZE.incrementAndGet() <= CACHED) {
      CACHE.add(b);
    } else {
      CACHE_SIZE.decrementAndGet();
    }
  }

  /** A free chunk, cleared, held once by the caller; waits while every chunk is in use. */
  Chunk take() throws IOException {
    try {
      while (true) {
        Chunk c = free.poll(20, TimeUnit.MILLISECONDS);
        if (c != null) {
          c.buffer.clear();
          c.refs.set(1);
          return c;
        }
        if (cancelled.getAsBoolean()) {
          throw new InterruptedIOException("the apply was abandoned");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }

  /**
   * Gives the buffers of the chunks that came back to the cache. Chunks still held elsewhere (an
   * abandoned apply) are left to the garbage collector.
   */
  void close() {
    Chunk c;
    while ((c = free.poll()) != null) {
      recycle(c.buffer);
    }
  }

  /** One buffer of layer bytes, between position 0 and its limit once published. */
  static final class Chunk {
    final Chunks pool;
    final ByteBuffer buffer;
    final AtomicInteger refs = new AtomicInteger();

    Chunk(Chunks pool, ByteBuffer buffer) {
      this.pool = pool;
      this.buffer = buffer;
    }

    void retain() {
      refs.incrementAndGet();
    }

    void release() {
      if (refs.decrementAndGet() == 0) {
        pool.free.add(this);
      }
    }
  }

  /** A piece of a chunk (its own position and limit) held by whoever got it, until released. */
  static final class Slice implements TarReader.Piece {
    final ByteBuffer bytes;
    private Chunk chunk;

    Slice(ByteBuffer bytes, Chunk chunk) {
      this.bytes = bytes;
      this.chunk = chunk;
    }

    @Override
    public int length() {
      return bytes.remaining();
    }

    /** Gives the chunk back (once). */
    void release() {
      Chunk c = chunk;
      if (c != null) {
        chunk = null;
        c.release();
      }
    }
  }
}
