package io.layerd.unpack;

import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import io.layerd.sys.IsalInflater;
import io.layerd.unpack.Chunks.Chunk;
import io.layerd.unpack.Chunks.Slice;
import io.layerd.unpack.internal.Decoding;
import io.layerd.unpack.internal.StreamSequence;
import io.layerd.unpack.internal.TarReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import java.util.zip.ZipException;

/**
 * A layer's bytes on their way to the tar reader, in three stages that run at once: a decoder
 * thread reads the layer (counting and digesting it as given) and decompresses it into chunks; a
 * digest thread computes the diffID over every uncompressed chunk (trailing bytes included); the
 * caller's thread reads tar entries from {@link #tar()}, and may take file contents as {@link
 * Slice}s of the chunks without copying them. Memory is bounded by the chunk pool: a decoder that
 * runs ahead waits for a chunk to come back.
 *
 * <p>The semantics of {@link io.layerd.unpack.internal.LayerStream} (which stays the simple,
 * single-threaded form): compression by magic bytes; gzip with every member read and each trailer
 * verified; zstd frames (skippable ones too) to the end of the input; the layer read to its end so
 * that its digest covers every byte. One rule more, the applier's (see ARCHITECTURE.md): bytes
 * after the last gzip member, zstd frame or xz or bzip2 stream that do not start another are
 * refused ({@link Decoding.TrailingData}, containerd's rule), where LayerStream's GZIPInputStream
 * ignores them. gzip is inflated by Intel ISA-L when {@link IsalInflater#available()}, else by
 * java.util.zip.
 */
final class LayerPipeline implements AutoCloseable {
  /** Chunks per apply: 32 x 256 KiB. */
  static final int CHUNKS = 32;

  private static final Object END = new Object();

  /** {@code -Dlayerd.unpack.trace=true}: each stage's CPU time on standard error, for tuning. */
  static final boolean TRACE = Boolean.getBoolean("layerd.unpack.trace");

  private final Compression compression;
  private final boolean isal;
  private final Chunks pool;
  private final BlockingQueue<Object> toReader = new LinkedBlockingQueue<>();
  private final BlockingQueue<Object> toDigest = new LinkedBlockingQueue<>();
  private final ChunkStream tar;
  private final Raw raw;
  private final Thread decoder;
  private final Thread digester;
  private volatile boolean cancelled;
  private boolean finished;

  /**
   * The decoder's chunk being filled (decoder thread only): on a failure what it holds is handed on
   * before the failure, so that the reader fails where the good bytes end, not at an entry the
   * decoder had run ahead of.
   */
  private Chunk filling;

  // Set by the digest thread before it ends.
  private volatile String diffId;
  private volatile long tarBytes;

  /** Bytes of the layer as given read so far (for progress; updated as the decoder reads). */
  long bytesRead() {
    return raw.count;
  }

  private LayerPipeline(
      Compression compression, InputStream source, byte[] magic, int n, boolean isal) {
    this.compression = compression;
    this.isal = isal;
    this.raw = new Raw(source, magic, n, compression);
    this.pool = new Chunks(CHUNKS, () -> cancelled);
    this.tar = new ChunkStream();
    this.decoder = new Thread(this::decode, "layerd-decode");
    this.digester = new Thread(this::digest, "layerd-digest");
    decoder.setDaemon(true);
    digester.setDaemon(true);
  }

  /**
   * Reads the layer's magic bytes (on the caller's thread) and starts the decoder and the digest.
   * The caller keeps ownership of {@code source}; it is read to its end by the decoder thread.
   */
  static LayerPipeline start(InputStream source) throws IOException {
    return start(source, IsalInflater.available());
  }

  /** As {@link #start(InputStream)}, with gzip inflated by ISA-L only when {@code isal}. */
  static LayerPipeline start(InputStream source, boolean isal) throws IOException {
    if (isal && !IsalInflater.available()) {
      throw new IllegalStateException(
          "ISA-L is not available: " + IsalInflater.unavailableReason());
    }
    byte[] magic = new byte[6];
    int n = 0;
    while (n < magic.length) {
      int r = source.read(magic, n, magic.length - n);
      if (r < 0) {
        break;
      }
      n += r;
    }
    Compression c = Compression.detect(magic, n);
    LayerPipeline p = new LayerPipeline(c, source, magic, n, isal);
    p.decoder.start();
    p.digester.start();
    return p;
  }

  Compression compression() {
    return compression;
  }

  /** The uncompressed tar, for a {@link TarReader}; read it on one thread only. */
  ChunkStream tar() {
    return tar;
  }

  /**
   * Reads what is left of the tar (the diffID covers bytes after the end-of-archive blocks) and
   * returns both digests once the decoder read the layer to its end.
   */
  ApplyResult.Digests finish() throws IOException {
    tar.drain();
    try {
      decoder.join();
      digester.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while finishing the layer");
    }
    finished = true;
    String d = diffId;
    long size = tarBytes;
    if (compression == Compression.NONE) {
      return new ApplyResult.Digests(compression, d, size, d, size);
    }
    return new ApplyResult.Digests(compression, raw.digest(), raw.count, d, size);
  }

  /**
   * Stops the stages when the apply ended early, and gives the buffers back. The digest thread is
   * always waited for (it ends within its next poll), even when this thread is interrupted (the
   * interrupt is kept): the layer's digest context is freed only once no thread can use it. The
   * decoder stops at its next step; one blocked reading a stalled pipe is left behind (a daemon
   * thread that touches nothing but the caller's stream and its own buffers, and keeps its digest
   * context, which is then never freed).
   */
  @Override
  public void close() {
    if (!finished) {
      cancelled = true;
      tar.abandon();
      boolean interrupted = Thread.interrupted();
      interrupted |= join(digester, 0);
      interrupted |= join(decoder, 1000);
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      Object o;
      while ((o = toReader.poll()) != null) {
        if (o instanceof Chunk) {
          ((Chunk) o).release();
        }
      }
    }
    if (!decoder.isAlive() && !digester.isAlive()) {
      raw.release();
    }
    pool.close();
  }

  /**
   * Waits for {@code t} ({@code millis}, 0: for good) however often interrupted; true if it was.
   */
  private static boolean join(Thread t, long millis) {
    boolean interrupted = false;
    long deadline = System.nanoTime() + millis * 1_000_000L;
    while (t.isAlive()) {
      long left = millis == 0 ? 0 : (deadline - System.nanoTime()) / 1_000_000L;
      if (millis != 0 && left <= 0) {
        break;
      }
      try {
        t.join(left);
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    return interrupted;
  }

  // ------------------------------------------------------------------ the digest thread

  private void digest() {
    LayerDigest sha = LayerDigest.create();
    long count = 0;
    try {
      while (true) {
        Object o = toDigest.poll(20, TimeUnit.MILLISECONDS);
        if (o == null) {
          if (cancelled) {
            sha.close();
            return;
          }
          continue;
        }
        if (o == END) {
          break;
        }
        if (o instanceof Slice) { // the layer's own bytes
          Slice raws = (Slice) o;
          raw.sha.update(raws.bytes);
          raws.release();
          continue;
        }
        Chunk c = (Chunk) o;
        ByteBuffer b = c.buffer.duplicate();
        count += b.remaining();
        sha.update(b);
        c.release();
      }
    } catch (InterruptedException e) {
      sha.close();
      return;
    }
    tarBytes = count;
    diffId = sha.finish();
    trace("digests done");
  }

  /** With {@link #TRACE}: what this thread reached, its CPU time so far and the JVM's age. */
  static void trace(String what) {
    traceSince(what, 0);
  }

  /** This thread's CPU time in nanoseconds (when tracing; else 0). */
  static long cpu() {
    return TRACE
        ? java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime()
        : 0;
  }

  /** With {@link #TRACE}: what this thread reached and its CPU time since {@code startCpu}. */
  static void traceSince(String what, long startCpu) {
    if (TRACE) {
      System.err.printf(
          "layerd trace [%s] %s: %.3f s CPU, at %d ms of the JVM%n",
          Thread.currentThread().getName(),
          what,
          (cpu() - startCpu) / 1e9,
          java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime());
    }
  }

  // ------------------------------------------------------------------ the decoder thread

  private void decode() {
    try {
      switch (compression) {
        case NONE:
          plain();
          break;
        case GZIP:
          gunzip();
          break;
        case ZSTD:
          unzstd();
          break;
        case XZ:
        case BZIP2:
        default:
          fromStream();
          break;
      }
      raw.drain();
      toDigest.add(END);
      toReader.add(END);
      trace("decoded " + compression.label() + (gzipByIsal() ? " (ISA-L)" : ""));
    } catch (IOException | RuntimeException e) {
      if (!cancelled && filling != null) {
        publish(filling);
      }
      toDigest.add(END);
      if (cancelled) {
        return;
      }
      IOException failure =
          compression == Compression.NONE
              ? (e instanceof IOException ? (IOException) e : new IOException(e.toString(), e))
              : corrupt(e); // passes on a failure said already (trailing data, xz and bzip2's)
      toReader.add(failure);
    } catch (Error e) {
      toDigest.add(END);
      toReader.add(e); // an Error stays an Error for the reader (no clean-up runs on it)
      throw e;
    }
  }

  private boolean gzipByIsal() {
    return compression == Compression.GZIP && isal;
  }

  /** A decompressor's failure, said plainly (see {@link Decoding#failure}). */
  private IOException corrupt(Exception e) {
    return Decoding.failure(compression, raw.count, e);
  }

  /** The decoder's next chunk to fill. */
  private Chunk fill() throws IOException {
    filling = pool.take();
    return filling;
  }

  /** Hands a filled chunk to the digest and the reader. */
  private void publish(Chunk c) {
    if (c == filling) {
      filling = null;
    }
    c.buffer.flip();
    if (!c.buffer.hasRemaining()) {
      c.release();
      return;
    }
    c.retain(); // one for each consumer
    toDigest.add(c);
    toReader.add(c);
  }

  private void plain() throws IOException {
    while (true) {
      Chunk c = fill();
      int n = raw.readInto(c.buffer);
      publish(c);
      if (n < 0) {
        return;
      }
    }
  }

  private void fromStream() throws IOException {
    InputStream in = StreamSequence.open(compression, raw, Compression.XZ_MEMORY_LIMIT_KIB);
    byte[] heap = new byte[64 * 1024];
    Chunk c = fill();
    while (true) {
      int r = in.read(heap, 0, Math.min(heap.length, c.buffer.remaining()));
      if (r < 0) {
        break;
      }
      c.buffer.put(heap, 0, r);
      if (!c.buffer.hasRemaining()) {
        publish(c);
        c = fill();
      }
      checkCancelled();
    }
    publish(c);
  }

  private void checkCancelled() throws IOException {
    if (cancelled) {
      throw new java.io.InterruptedIOException("the apply was abandoned");
    }
  }

  private void unzstd() throws IOException {
    try (ZstdDecompressCtx ctx = new ZstdDecompressCtx()) {
      Chunk c = fill();
      boolean frameDone = false; // as of the last call that moved bytes
      boolean eof = false;
      while (true) {
        if (!raw.in.hasRemaining() && !eof) {
          eof = !raw.refill();
        }
        ByteBuffer in = raw.in;
        if (!c.buffer.hasRemaining()) {
          publish(c);
          c = fill();
        }
        int ip = in.position();
        int op = c.buffer.position();
        boolean done;
        try {
          done = ctx.decompressDirectByteBufferStream(c.buffer, in);
        } catch (ZstdException e) {
          if (frameDone && op == c.buffer.position()) {
            // A frame ended, and what follows is not the start of another.
            throw Decoding.trailing(compression, raw.count - (in.limit() - ip), -1, e.getMessage());
          }
          throw new IOException(e.getMessage(), e);
        }
        boolean moved = ip != in.position() || op != c.buffer.position();
        if (moved) {
          frameDone = done;
        }
        if (eof && !in.hasRemaining() && !moved && c.buffer.hasRemaining()) {
          break; // nothing is left in the input or in the decompressor
        }
        checkCancelled();
      }
      publish(c);
      if (!frameDone) {
        throw new EOFException("the last zstd frame is cut short");
      }
    }
  }

  // ------------------------------------------------------------------ gzip

  private void gunzip() throws IOException {
    Inflating inflating = isal ? new Isal() : new Zlib();
    try {
      Chunk c = fill();
      boolean first = true;
      while (true) {
        if (!first) {
          // GZIPInputStream's rule: another member follows only if a valid header does; other
          // bytes after a member are left unread (here: digested, as part of the layer).
          if (!raw.in.hasRemaining() && !raw.refill()) {
            break;
          }
          long at = raw.count - raw.in.remaining();
          try {
            header();
          } catch (IOException notAMember) {
            throw Decoding.trailing(
                compression,
                at,
                -1,
                notAMember.getMessage() == null ? "a header cut short" : notAMember.getMessage());
          }
        } else {
          header();
          first = false;
        }
        inflating.startMember();
        while (true) {
          if (!c.buffer.hasRemaining()) {
            publish(c);
            c = fill();
          }
          ByteBuffer in = raw.in;
          int ip = in.position();
          int op = c.buffer.position();
          if (inflating.inflate(in, c.buffer)) {
            break;
          }
          boolean moved = ip != in.position() || op != c.buffer.position();
          if (!in.hasRemaining() || !moved) {
            if (!raw.refill()) {
              throw new EOFException("Unexpected end of ZLIB input stream");
            }
          }
          checkCancelled();
        }
      }
      publish(c);
    } finally {
      inflating.close();
    }
  }

  /** Reads a gzip member header (RFC 1952), as GZIPInputStream does. */
  private void header() throws IOException {
    CRC32 crc = new CRC32();
    if (u16(crc) != 0x8b1f) {
      throw new ZipException("Not in GZIP format");
    }
    if (u8(crc) != 8) {
      throw new ZipException("Unsupported compression method");
    }
    int flags = u8(crc);
    for (int i = 0; i < 6; i++) {
      u8(crc); // mtime, xfl, os
    }
    if ((flags & 4) != 0) { // FEXTRA
      int len = u16(crc);
      for (int i = 0; i < len; i++) {
        u8(crc);
      }
    }
    if ((flags & 8) != 0) { // FNAME
      while (u8(crc) != 0) {
        // skip
      }
    }
    if ((flags & 16) != 0) { // FCOMMENT
      while (u8(crc) != 0) {
        // skip
      }
    }
    if ((flags & 2) != 0) { // FHCRC
      int v = (int) crc.getValue() & 0xffff;
      if (u16(null) != v) {
        throw new ZipException("Corrupt GZIP header");
      }
    }
  }

  private int u8(CRC32 crc) throws IOException {
    if (!raw.in.hasRemaining() && !raw.refill()) {
      throw new EOFException();
    }
    int b = raw.in.get() & 0xff;
    if (crc != null) {
      crc.update(b);
    }
    return b;
  }

  private int u16(CRC32 crc) throws IOException {
    return u8(crc) | (u8(crc) << 8);
  }

  /** Inflates one member's deflate data and checks its trailer. */
  private interface Inflating extends AutoCloseable {
    void startMember();

    /** True when the member ended and its trailer matched. */
    boolean inflate(ByteBuffer in, ByteBuffer out) throws IOException;

    @Override
    void close();
  }

  /** Intel ISA-L through sys: it reads and verifies the trailer itself. */
  private static final class Isal implements Inflating {
    private final IsalInflater inflater = IsalInflater.create();

    @Override
    public void startMember() {
      inflater.startMember();
    }

    @Override
    public boolean inflate(ByteBuffer in, ByteBuffer out) throws IOException {
      return inflater.inflate(in, out);
    }

    @Override
    public void close() {
      inflater.close();
    }
  }

  /** java.util.zip (zlib), with the trailer read here as GZIPInputStream reads it. */
  private final class Zlib implements Inflating {
    private final Inflater inflater = new Inflater(true);
    private final CRC32 crc = new CRC32();
    private boolean trailer;

    @Override
    public void startMember() {
      inflater.reset();
      crc.reset();
      trailer = false;
    }

    @Override
    public boolean inflate(ByteBuffer in, ByteBuffer out) throws IOException {
      if (!trailer) {
        inflater.setInput(in);
        int start = out.position();
        try {
          inflater.inflate(out);
        } catch (DataFormatException e) {
          String m = e.getMessage();
          throw new ZipException(m != null ? m : "Invalid ZLIB data format");
        }
        crc.update(out.duplicate().flip().position(start));
        if (inflater.needsDictionary()) {
          throw new ZipException("a gzip member that needs a preset dictionary");
        }
        if (!inflater.finished()) {
          return false;
        }
        trailer = true;
      }
      if (in.remaining() < 8) {
        if (!raw.refill() || raw.in.remaining() < 8) {
          return false; // not all there yet: the caller refills, or finds the stream cut short
        }
        in = raw.in;
      }
      ByteBuffer t = in.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
      long storedCrc = t.getInt(0) & 0xffffffffL;
      long storedSize = t.getInt(4) & 0xffffffffL;
      in.position(in.position() + 8);
      if (storedCrc != crc.getValue() || storedSize != (inflater.getBytesWritten() & 0xffffffffL)) {
        throw new ZipException("Corrupt GZIP trailer");
      }
      return true;
    }

    @Override
    public void close() {
      inflater.end();
    }
  }

  // ------------------------------------------------------------------ the layer as given

  /**
   * The layer's own bytes, counted as they are read (on the decoder thread): the magic bytes read
   * first, then the source. For the native decompressors, {@link #in} is a pooled chunk whose new
   * bytes the digest thread digests; for the stream decompressors (xz, bzip2) this is an
   * InputStream digesting on the decoder thread. A plain tar's digest is its diffID: not computed
   * here.
   */
  private final class Raw extends InputStream {
    private final InputStream source;

    /**
     * The source's channel when it is a file's (or a pipe's) stream: read straight into the direct
     * chunks, without the two copies an InputStream's reads cost (into its own buffer, then out).
     * It shares the stream's position, so the magic bytes already read are not read again.
     */
    private final java.nio.channels.FileChannel channel;

    private final byte[] prefix;
    private int prefixLeft;
    private int prefixAt;
    final LayerDigest sha;
    private final boolean queued;
    private final byte[] heap = new byte[Chunks.SIZE];

    /** The native decompressors' input (read mode); an empty buffer until the first refill. */
    ByteBuffer in = ByteBuffer.allocateDirect(0);

    private Chunk inChunk;
    // Volatile: a progress display reads it (bytesRead) while the decoder adds to it. The decoder
    // thread is its one writer, so its += (NonAtomicVolatileUpdate, suppressed where it is done)
    // loses nothing.
    volatile long count;
    private boolean eof;

    Raw(InputStream source, byte[] prefix, int prefixLength, Compression c) {
      this.source = source;
      this.channel =
          source instanceof java.io.FileInputStream
              ? ((java.io.FileInputStream) source).getChannel()
              : null;
      this.prefix = prefix;
      this.prefixLeft = prefixLength;
      this.sha = c == Compression.NONE ? null : LayerDigest.create();
      this.queued = c == Compression.GZIP || c == Compression.ZSTD;
    }

    String digest() {
      return sha.finish();
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n <= 0 ? -1 : one[0] & 0xff;
    }

    /** The stream decompressors' reads: digested here. */
    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = readRaw(b, off, len);
      if (n > 0 && sha != null) {
        sha.update(b, off, n);
      }
      return n;
    }

    /** Reads and counts, without digesting. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: see count
    private int readRaw(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      int n;
      if (prefixLeft > 0) {
        n = Math.min(len, prefixLeft);
        System.arraycopy(prefix, prefixAt, b, off, n);
        prefixAt += n;
        prefixLeft -= n;
      } else {
        if (eof) {
          return -1;
        }
        n = source.read(b, off, len);
        if (n < 0) {
          eof = true;
          return -1;
        }
      }
      count += n;
      return n;
    }

    /** Fills the chunk's free space (a plain tar's bytes); -1 at the end of the layer. */
    int readInto(ByteBuffer dst) throws IOException {
      while (dst.hasRemaining()) {
        if (readSome(dst) < 0) {
          return -1;
        }
      }
      return 0;
    }

    /**
     * Reads and counts (without digesting) at least one byte into {@code dst}'s free space, or -1
     * at the end of the layer.
     */
    @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: see count
    private int readSome(ByteBuffer dst) throws IOException {
      if (channel == null || prefixLeft > 0 || eof) {
        int r = readRaw(heap, 0, Math.min(heap.length, dst.remaining()));
        if (r > 0) {
          dst.put(heap, 0, r);
        }
        return r;
      }
      while (true) {
        int r = channel.read(dst);
        if (r < 0) {
          eof = true;
          return -1;
        }
        if (r > 0 || !dst.hasRemaining()) {
          count += r;
          return r;
        }
      }
    }

    /**
     * Moves {@link #in} to a new chunk holding its unread bytes and then what the source has next
     * (handed to the digest thread). False at the end of the source: nothing was added and {@link
     * #in} is unchanged.
     */
    boolean refill() throws IOException {
      Chunk next = pool.take();
      ByteBuffer nb = next.buffer;
      nb.put(in); // what the decompressor did not take yet
      int at = nb.position();
      int r = readSome(nb);
      if (r <= 0) {
        in.position(in.position() - at); // give the unread bytes back
        next.release();
        return false;
      }
      nb.flip();
      digest(next, at);
      if (inChunk != null) {
        inChunk.release();
      }
      inChunk = next;
      in = nb;
      return true;
    }

    /** Digests the chunk's bytes from {@code at} to its limit. */
    private void digest(Chunk c, int at) {
      if (sha == null) {
        return;
      }
      ByteBuffer fresh = c.buffer.duplicate().position(at);
      if (queued) {
        c.retain();
        toDigest.add(new Slice(fresh, c));
      } else {
        sha.update(fresh);
      }
    }

    /** Reads (and digests) whatever the layer has left. */
    void drain() throws IOException {
      if (queued) {
        while (true) {
          Chunk c = pool.take();
          int r = readSome(c.buffer);
          if (r <= 0) {
            c.release();
            break;
          }
          c.buffer.flip();
          digest(c, 0);
          c.release();
        }
      } else {
        while (read(heap, 0, heap.length) >= 0) {
          // digest everything that is left
        }
      }
      if (inChunk != null) {
        inChunk.release();
        inChunk = null;
      }
    }

    /** Frees the digest's native context (when the layer was not read to its end). */
    void release() {
      if (sha != null) {
        sha.close();
      }
    }
  }

  // ------------------------------------------------------------------ the tar reader's side

  /** What the reader does before it waits for the decoder (hand queued work over). */
  @FunctionalInterface
  interface BeforeWait {
    void run() throws IOException;
  }

  /**
   * The uncompressed tar as the caller's thread reads it: chunk after chunk from the decoder, with
   * the decoder's failure thrown where the reader meets it.
   */
  final class ChunkStream extends InputStream implements TarReader.PieceSource<Slice> {
    private Chunk current;
    private ByteBuffer view;
    private boolean end;
    private BeforeWait beforeWait;

    /** Runs {@code hook} whenever the reader is about to wait for the decoder. */
    void beforeWait(BeforeWait hook) {
      this.beforeWait = hook;
    }

    /** False at the end of the tar; else the current chunk has bytes left. */
    private boolean ensure() throws IOException {
      while (view == null || !view.hasRemaining()) {
        if (end) {
          return false;
        }
        if (current != null) {
          current.release();
          current = null;
          view = null;
        }
        Object o = toReader.poll();
        try {
          if (o == null) {
            if (beforeWait != null) {
              beforeWait.run();
            }
            o = toReader.take();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new java.io.InterruptedIOException("interrupted while reading the layer");
        }
        if (o == END) {
          end = true;
          return false;
        }
        if (o instanceof IOException) {
          end = true;
          IOException e = (IOException) o;
          throw new IOException(e.getMessage(), e);
        }
        if (o instanceof Error) {
          end = true;
          throw (Error) o;
        }
        current = (Chunk) o;
        view = current.buffer.duplicate();
      }
      return true;
    }

    @Override
    public int read() throws IOException {
      if (!ensure()) {
        return -1;
      }
      return view.get() & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (!ensure()) {
        return -1;
      }
      int n = Math.min(len, view.remaining());
      view.get(b, off, n);
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long done = 0;
      while (done < n && ensure()) {
        int k = (int) Math.min(n - done, view.remaining());
        view.position(view.position() + k);
        done += k;
      }
      return done;
    }

    /**
     * Up to {@code max} next bytes as a view of the current chunk, held for the caller (who must
     * release it); null at the end of the tar.
     */
    @Override
    public Slice slice(int max) throws IOException {
      if (!ensure()) {
        return null;
      }
      int n = Math.min(max, view.remaining());
      ByteBuffer s = view.slice().limit(n);
      view.position(view.position() + n);
      current.retain();
      return new Slice(s, current);
    }

    /** Reads to the end of the tar (for the diffID), giving every chunk back. */
    void drain() throws IOException {
      while (ensure()) {
        view.position(view.limit());
      }
    }

    /** Gives back what the reader holds when the apply ends early. */
    void abandon() {
      if (current != null) {
        current.release();
        current = null;
        view = null;
      }
      end = true;
    }
  }
}
