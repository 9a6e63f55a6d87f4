package io.layerd.sys;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Deflates blocks of a raw deflate stream with Intel ISA-L ({@code isal_deflate}, levels 1 to 3,
 * several times faster than zlib at a ratio near zlib's level 5), when libisal.so.2 is installed.
 * Each call deflates one block on its own, optionally with a preset dictionary (the previous
 * block's last 32 KiB), and ends it with a sync flush (an empty stored block), so that blocks
 * deflated apart, on several threads, join into one deflate stream; the last block ends the stream
 * instead. The caller writes the wrapper (gzip's header, CRC-32 and size).
 *
 * <p>Optional by design, as {@link IsalInflater}: {@link #available()} is false (and {@link
 * #unavailableReason()} says why) when the library is missing, when this is not a 64-bit Linux,
 * when {@code -Dlayerd.isal=false} is set, or when the self-test run at first use fails (at every
 * level, two blocks joined by a dictionary are inflated by java.util.zip and compared byte for
 * byte: the {@code struct isal_zstream} offsets below are those of ISA-L 2.30, and a library that
 * disagrees is not used). Callers then use java.util.zip.
 *
 * <p>Not thread-safe: one instance per thread. Its native memory (the stream's state, the level's
 * buffer and room for a block, about 1 MB) is freed by {@link #close()}.
 */
public final class IsalDeflater implements AutoCloseable {
  /** ISA-L's levels: 1 to 3 ({@code ISAL_DEF_MIN_LEVEL} 0 needs no buffer but is not offered). */
  public static final int MIN_LEVEL = 1;

  public static final int MAX_LEVEL = 3;

  // struct isal_zstream (isa-l/igzip_lib.h, 2.30, LP64): offsets checked by the self-test.
  private static final int NEXT_IN = 0;
  private static final int AVAIL_IN = 8;
  private static final int NEXT_OUT = 16;
  private static final int AVAIL_OUT = 24;
  private static final int LEVEL = 40;
  private static final int LEVEL_BUF_SIZE = 44;
  private static final int LEVEL_BUF = 48;
  private static final int END_OF_STREAM = 56; // uint16_t, as flush and gzip_flag
  private static final int FLUSH = 58;
  private static final int GZIP_FLAG = 60;
  private static final int ZSTATE_STATE = 84; // internal_state.state
  private static final int STREAM_SIZE = 82384;
  private static final int ALLOCATED = STREAM_SIZE + 8192; // a margin for other 2.x builds

  /** ISAL_DEF_LVLx_EXTRA_LARGE for x = 1, 2, 3: the most tokens, so the fewest block headers. */
  private static final int[] LEVEL_BUF_SIZES = {0, 544768, 593920, 610304};

  private static final int SYNC_FLUSH = 1;
  private static final int ZSTATE_NEW_HDR = 0;
  private static final int ZSTATE_END = 11;
  private static final int DICTIONARY = 32 * 1024;

  private final int level;
  private final Memory stream;
  private final ByteBuffer state;
  private final long address;
  private final Memory levelBuf;
  private Memory io; // the dictionary, then the input, then room for the output
  private boolean closed;

  private IsalDeflater(int level) {
    this.level = level;
    stream = new Memory(ALLOCATED);
    stream.clear();
    address = Pointer.nativeValue(stream);
    state = stream.getByteBuffer(0, ALLOCATED).order(ByteOrder.nativeOrder());
    levelBuf = new Memory(LEVEL_BUF_SIZES[level]);
  }

  /** Whether ISA-L is there and passed the self-test. */
  public static boolean available() {
    return Holder.REASON == null;
  }

  /** Why ISA-L's deflate is not used, or null when it is. */
  public static String unavailableReason() {
    return Holder.REASON;
  }

  /** A new deflater at {@code level} ({@value #MIN_LEVEL} to {@value #MAX_LEVEL}). */
  public static IsalDeflater create(int level) {
    if (level < MIN_LEVEL || level > MAX_LEVEL) {
      throw new IllegalArgumentException(
          "ISA-L's deflate levels are " + MIN_LEVEL + " to " + MAX_LEVEL + ", not " + level);
    }
    if (!available()) {
      throw new IllegalStateException("ISA-L is not available: " + Holder.REASON);
    }
    return new IsalDeflater(level);
  }

  /**
   * Deflates {@code input[off, off + len)} as a whole block and returns its deflate data: ended by
   * a sync flush, or, when {@code last}, by the stream's final block. The block may refer back into
   * {@code dict[dictOff, dictOff + dictLen)} (only its last 32 KiB count), the data that comes
   * before it in the stream; {@code dictLen} may be 0.
   */
  public byte[] deflate(
      byte[] input, int off, int len, byte[] dict, int dictOff, int dictLen, boolean last) {
    if (closed) {
      throw new IllegalStateException("closed");
    }
    if (dictLen > DICTIONARY) {
      dictOff += dictLen - DICTIONARY;
      dictLen = DICTIONARY;
    }
    // Stored blocks bound the output: 5 bytes per 64 KiB, the flush's and the end's few bytes.
    int room = len + len / 1024 + 1024;
    long need = (long) DICTIONARY + len + room;
    if (io == null || io.size() < need) {
      if (io != null) {
        io.close();
      }
      io = new Memory(need);
    }
    long base = Pointer.nativeValue(io);
    Isal.isal_deflate_init(address);
    state.putInt(LEVEL, level);
    state.putInt(LEVEL_BUF_SIZE, LEVEL_BUF_SIZES[level]);
    state.putLong(LEVEL_BUF, Pointer.nativeValue(levelBuf));
    state.putShort(END_OF_STREAM, (short) (last ? 1 : 0));
    state.putShort(FLUSH, (short) (last ? 0 : SYNC_FLUSH));
    state.putShort(GZIP_FLAG, (short) 0);
    if (dictLen > 0) {
      io.write(0, dict, dictOff, dictLen);
      check(Isal.isal_deflate_set_dict(address, base, dictLen), "isal_deflate_set_dict");
    }
    io.write(DICTIONARY, input, off, len);
    long outBase = base + DICTIONARY + len;
    state.putLong(NEXT_IN, base + DICTIONARY);
    state.putInt(AVAIL_IN, len);
    ByteArrayOutputStream spill = null; // only if the output outgrows its room
    while (true) {
      state.putLong(NEXT_OUT, outBase);
      state.putInt(AVAIL_OUT, room);
      check(Isal.isal_deflate(address), "isal_deflate");
      int produced = room - state.getInt(AVAIL_OUT);
      int zstate = state.getInt(ZSTATE_STATE);
      boolean done = state.getInt(AVAIL_IN) == 0 && zstate == (last ? ZSTATE_END : ZSTATE_NEW_HDR);
      if (done && spill == null) {
        return io.getByteArray(DICTIONARY + len, produced);
      }
      if (spill == null) {
        spill = new ByteArrayOutputStream(2 * room);
      }
      spill.writeBytes(io.getByteArray(DICTIONARY + len, produced));
      if (done) {
        return spill.toByteArray();
      }
      if (produced == 0) {
        throw new IllegalStateException("isal_deflate made no progress (state " + zstate + ")");
      }
    }
  }

  private static void check(int ret, String call) {
    if (ret != 0) {
      throw new IllegalStateException(call + " failed (" + ret + ")");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      stream.close();
      levelBuf.close();
      if (io != null) {
        io.close();
      }
    }
  }

  /** Loads the library and runs the self-test once. */
  private static final class Holder {
    static final String REASON = Isal.check("deflate", Holder::selfTestAllLevels);

    private static String selfTestAllLevels() throws DataFormatException {
      for (int level = MIN_LEVEL; level <= MAX_LEVEL; level++) {
        String wrong = selfTest(level);
        if (wrong != null) {
          return wrong;
        }
      }
      return null;
    }

    /**
     * Two blocks of a text-like pattern, the second with the first as its dictionary, inflated as
     * one stream by java.util.zip; the second block must be small (it repeats the first).
     */
    private static String selfTest(int level) throws DataFormatException {
      int half = 20_000;
      byte[] data = Arrays.copyOf(Isal.selfTestData(half), 2 * half);
      System.arraycopy(data, 0, data, half, half);
      byte[] first;
      byte[] second;
      try (IsalDeflater d = new IsalDeflater(level)) {
        first = d.deflate(data, 0, half, null, 0, 0, false);
        second = d.deflate(data, half, half, data, 0, half, true);
      }
      if (second.length > first.length / 4) {
        return "the ISA-L deflate self-test did not use the dictionary at level "
            + level
            + " ("
            + second.length
            + " bytes for a repeat of "
            + first.length
            + ")";
      }
      byte[] joined = Arrays.copyOf(first, first.length + second.length);
      System.arraycopy(second, 0, joined, first.length, second.length);
      Inflater inf = new Inflater(true);
      try {
        inf.setInput(joined);
        byte[] got = new byte[data.length + 1];
        int n = 0;
        while (!inf.finished() && n < got.length) {
          int k = inf.inflate(got, n, got.length - n);
          if (k == 0 && (inf.needsInput() || inf.needsDictionary())) {
            break;
          }
          n += k;
        }
        if (!inf.finished() || inf.getRemaining() != 0 || n != data.length) {
          return "the ISA-L deflate self-test's stream did not end where it should at level "
              + level;
        }
        if (!Arrays.equals(Arrays.copyOf(got, n), data)) {
          return "java.util.zip inflated other bytes than ISA-L deflated at level " + level;
        }
        return null;
      } finally {
        inf.end();
      }
    }
  }
}
