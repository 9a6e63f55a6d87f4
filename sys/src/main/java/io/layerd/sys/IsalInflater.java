package io.layerd.sys;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.ZipException;

/**
 * Inflates the members of a gzip stream with Intel ISA-L ({@code isal_inflate}, several times
 * faster than zlib), when libisal.so.2 is installed. The caller parses each member's header; this
 * inflates the deflate data that follows and then reads and verifies the member's trailer (CRC-32
 * and size, ISA-L's {@code ISAL_GZIP_NO_HDR_VER}), leaving the input positioned just after it.
 *
 * <p>Optional by design: {@link #available()} is false (and {@link #unavailableReason()} says why)
 * when the library is missing, when this is not a 64-bit Linux, when {@code -Dlayerd.isal=false} is
 * set, or when the self-test run at first use fails (it inflates a stream made by java.util.zip,
 * checks every byte, the trailer check and the position after the member: the {@code struct
 * inflate_state} offsets below are those of ISA-L 2.x, and a library that disagrees is not used).
 * Callers then use java.util.zip.
 *
 * <p>Not thread-safe: one instance per stream. Its native state (about 85 KiB) is freed by {@link
 * #close()}.
 */
public final class IsalInflater implements AutoCloseable {
  // struct inflate_state (isa-l/igzip_lib.h, 2.x, LP64): offsets checked by the self-test.
  private static final int NEXT_OUT = 0;
  private static final int AVAIL_OUT = 8;
  private static final int TOTAL_OUT = 12;
  private static final int NEXT_IN = 16;
  private static final int AVAIL_IN = 32;
  private static final int BLOCK_STATE = 21160;
  private static final int CRC_FLAG = 21172;
  private static final int STATE_SIZE = 87368;
  private static final int ALLOCATED = STATE_SIZE + 8192; // a margin for other 2.x builds

  private static final int ISAL_BLOCK_FINISH = 5;
  private static final int ISAL_GZIP_NO_HDR_VER = 6;

  private final Memory memory;
  private final ByteBuffer state;
  private final long address;
  private long totalOut;

  private IsalInflater() {
    memory = new Memory(ALLOCATED);
    memory.clear();
    address = Pointer.nativeValue(memory);
    state = memory.getByteBuffer(0, ALLOCATED).order(ByteOrder.nativeOrder());
    startMember();
  }

  /** Whether ISA-L is there and passed the self-test. */
  public static boolean available() {
    return Holder.REASON == null;
  }

  /** Why ISA-L is not used, or null when it is. */
  public static String unavailableReason() {
    return Holder.REASON;
  }

  /** A new inflater, ready for a member's deflate data. */
  public static IsalInflater create() {
    if (!available()) {
      throw new IllegalStateException("ISA-L is not available: " + Holder.REASON);
    }
    return new IsalInflater();
  }

  /** Gets ready for the deflate data of the next member (after the caller read its header). */
  public void startMember() {
    Isal.isal_inflate_init(address);
    state.putInt(CRC_FLAG, ISAL_GZIP_NO_HDR_VER);
    state.putInt(TOTAL_OUT, 0);
  }

  /** Bytes produced since the inflater was made, over every member. */
  public long totalOut() {
    return totalOut;
  }

  /**
   * Inflates from {@code in} into {@code out} (both direct, between position and limit), advancing
   * both positions. Returns true when the member is complete: its deflate data ended and its
   * trailer was read and matched; {@code in} is then positioned just after the trailer. Returns
   * false when it needs more input or more room. A corrupt member fails with a {@link
   * ZipException}.
   */
  public boolean inflate(ByteBuffer in, ByteBuffer out) throws IOException {
    if (memory == null) {
      throw new IllegalStateException("closed");
    }
    long inBase = Pointer.nativeValue(Native.getDirectBufferPointer(in));
    long outBase = Pointer.nativeValue(Native.getDirectBufferPointer(out));
    int inPos = in.position();
    int outPos = out.position();
    int inLen = in.remaining();
    int outLen = out.remaining();
    state.putLong(NEXT_IN, inBase + inPos);
    state.putInt(AVAIL_IN, inLen);
    state.putLong(NEXT_OUT, outBase + outPos);
    state.putInt(AVAIL_OUT, outLen);
    int ret = Isal.isal_inflate(address);
    int inLeft = state.getInt(AVAIL_IN);
    int outLeft = state.getInt(AVAIL_OUT);
    in.position(inPos + (inLen - inLeft));
    out.position(outPos + (outLen - outLeft));
    totalOut += outLen - outLeft;
    if (ret < 0) {
      throw new ZipException(message(ret));
    }
    return state.getInt(BLOCK_STATE) == ISAL_BLOCK_FINISH;
  }

  private static String message(int ret) {
    switch (ret) {
      case -1:
        return "invalid deflate block (isal_inflate)";
      case -2:
        return "invalid deflate symbol (isal_inflate)";
      case -3:
        return "invalid lookback distance (isal_inflate)";
      case -4:
        return "invalid gzip wrapper (isal_inflate)";
      case -5:
        return "unsupported compression method (isal_inflate)";
      case -6:
        return "the gzip trailer's CRC-32 or size does not match the data (isal_inflate)";
      default:
        return "isal_inflate failed (" + ret + ")";
    }
  }

  @Override
  public void close() {
    memory.close();
  }

  /** Loads the library and runs the self-test once. */
  private static final class Holder {
    static final String REASON = Isal.check("inflate", Holder::selfTest);

    /** A member made by java.util.zip, inflated in small steps; then a corrupt trailer. */
    private static String selfTest() throws IOException {
      byte[] data = Isal.selfTestData(80_000); // more than the 32 KiB window, in many steps
      Deflater d = new Deflater(6, true);
      d.setInput(data);
      d.finish();
      byte[] deflated = new byte[data.length + 1024];
      int n = 0;
      while (!d.finished()) {
        n += d.deflate(deflated, n, deflated.length - n);
      }
      d.end();
      CRC32 crc = new CRC32();
      crc.update(data);
      byte[] extra = {'e', 'n', 'd'};
      ByteBuffer member = ByteBuffer.allocateDirect(n + 8 + extra.length);
      member.put(deflated, 0, n).order(ByteOrder.LITTLE_ENDIAN);
      member.putInt((int) crc.getValue()).putInt(data.length).put(extra).flip();
      byte[] got = inflateAll(member, member.limit() - extra.length);
      if (!Arrays.equals(got, data)) {
        return "the ISA-L self-test inflated other bytes than java.util.zip made";
      }
      if (member.remaining() != extra.length) {
        return "the ISA-L self-test ended " + member.remaining() + " bytes before the input's end";
      }
      member.position(0);
      member.put(n, (byte) (member.get(n) ^ 1)); // the CRC's first byte
      try {
        inflateAll(member, member.limit() - extra.length);
        return "the ISA-L self-test accepted a wrong CRC-32";
      } catch (ZipException expected) {
        return null;
      }
    }

    /** Feeds the member 997 bytes at a time into a 4093-byte output; the member must end. */
    private static byte[] inflateAll(ByteBuffer member, int memberEnd) throws IOException {
      java.io.ByteArrayOutputStream result = new java.io.ByteArrayOutputStream();
      ByteBuffer out = ByteBuffer.allocateDirect(4093);
      try (IsalInflater inf = new IsalInflater()) {
        int limit = member.limit();
        while (true) {
          int before = member.position();
          int feed = Math.min(limit, before + 997);
          ByteBuffer in = member.duplicate().limit(feed);
          boolean done = inf.inflate(in, out);
          member.position(in.position());
          out.flip();
          byte[] b = new byte[out.remaining()];
          out.get(b);
          result.writeBytes(b);
          out.clear();
          if (done) {
            return result.toByteArray();
          }
          if (b.length == 0 && member.position() == before && feed == limit) {
            throw new IOException("the member did not end by byte " + memberEnd);
          }
        }
      }
    }
  }
}
