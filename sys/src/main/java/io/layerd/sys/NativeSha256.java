package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.security.MessageDigest;

/**
 * SHA-256 by OpenSSL's libcrypto (SHA-NI where the CPU has it), for digests of whole layers. The
 * JDK's SHA-256 is as fast only once the C2 compiler has compiled it (its intrinsic), which a short
 * process pays for in compile time; this one is fast from the first byte.
 *
 * <p>Optional: {@link #available()} is false (and {@link #unavailableReason()} says why) without
 * libcrypto, on other than 64-bit Linux, with {@code -Dlayerd.nativeDigest=false}, or when the
 * self-test (known answers, and agreement with the JDK's) fails; callers then use {@link
 * MessageDigest}. Not thread-safe; {@link #close()} frees the native context.
 */
public final class NativeSha256 implements AutoCloseable {
  private static final int SCRATCH = 64 * 1024;

  private long ctx;
  private ByteBuffer scratch;

  private NativeSha256() {
    ctx = Crypto.EVP_MD_CTX_new();
    if (ctx == 0) {
      throw new OutOfMemoryError("EVP_MD_CTX_new");
    }
    if (Crypto.EVP_DigestInit_ex(ctx, Crypto.EVP_sha256(), 0) != 1) {
      Crypto.EVP_MD_CTX_free(ctx);
      ctx = 0;
      throw new IllegalStateException("EVP_DigestInit_ex(SHA-256) failed");
    }
  }

  /** Whether libcrypto is there and passed the self-test. */
  public static boolean available() {
    return Holder.REASON == null;
  }

  /** Why libcrypto is not used, or null when it is. */
  public static String unavailableReason() {
    return Holder.REASON;
  }

  /** A new digest. */
  public static NativeSha256 create() {
    if (!available()) {
      throw new IllegalStateException("native SHA-256 is not available: " + Holder.REASON);
    }
    return new NativeSha256();
  }

  /** Digests a direct buffer between its position and limit, advancing the position. */
  public void update(ByteBuffer direct) {
    int n = direct.remaining();
    if (n == 0) {
      return;
    }
    if (!direct.isDirect()) {
      byte[] b = new byte[n];
      direct.get(b);
      update(b, 0, n);
      return;
    }
    long base = Pointer.nativeValue(Native.getDirectBufferPointer(direct));
    check(Crypto.EVP_DigestUpdate(open(), base + direct.position(), n));
    direct.position(direct.position() + n);
  }

  /** Digests bytes of an array (copied through a native buffer). */
  public void update(byte[] b, int off, int len) {
    if (scratch == null) {
      scratch = ByteBuffer.allocateDirect(SCRATCH);
    }
    while (len > 0) {
      int n = Math.min(len, SCRATCH);
      scratch.clear();
      scratch.put(b, off, n).flip();
      update(scratch);
      off += n;
      len -= n;
    }
  }

  /** The digest of everything given; the object is then spent (closed). */
  public byte[] digest() {
    byte[] md = new byte[32];
    try {
      check(Crypto.EVP_DigestFinal_ex(open(), md, 0));
    } finally {
      close();
    }
    return md;
  }

  private long open() {
    if (ctx == 0) {
      throw new IllegalStateException("the digest was finished or closed");
    }
    return ctx;
  }

  private static void check(int ret) {
    if (ret != 1) {
      throw new IllegalStateException("libcrypto's SHA-256 failed");
    }
  }

  @Override
  public void close() {
    if (ctx != 0) {
      Crypto.EVP_MD_CTX_free(ctx);
      ctx = 0;
    }
  }

  private static final class Holder {
    static final String REASON = check();

    private static String check() {
      if (!Boolean.parseBoolean(System.getProperty("layerd.nativeDigest", "true"))) {
        return "disabled by -Dlayerd.nativeDigest=false";
      }
      if (!Platform.isLinux() || !Platform.is64Bit()) {
        return "libcrypto is bound for 64-bit Linux only";
      }
      String missing = Crypto.load();
      if (missing != null) {
        return missing;
      }
      try {
        return selfTest();
      } catch (RuntimeException | LinkageError e) {
        return "the libcrypto self-test failed: " + e;
      }
    }

    /** Known answers ("abc" of FIPS 180-2; 100,000 'a', from a direct buffer in pieces). */
    private static String selfTest() {
      String abc = hex(new byte[] {'a', 'b', 'c'});
      if (!abc.equals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")) {
        return "libcrypto's SHA-256 of \"abc\" is " + abc;
      }
      byte[] as = new byte[100_000];
      java.util.Arrays.fill(as, (byte) 'a');
      ByteBuffer direct = ByteBuffer.allocateDirect(as.length).put(as).flip();
      byte[] md;
      try (NativeSha256 d = new NativeSha256()) {
        d.update(direct.duplicate().limit(33_333));
        d.update(as, 0, 2);
        d.update(direct.duplicate().position(33_335));
        md = d.digest();
      }
      String m = java.util.HexFormat.of().formatHex(md);
      if (!m.equals("6d1cf22d7cc09b085dfc25ee1a1f3ae0265804c607bc2074ad253bcc82fd81ee")) {
        return "libcrypto's SHA-256 of 100,000 'a' is " + m;
      }
      return null;
    }

    private static String hex(byte[] data) {
      try (NativeSha256 d = new NativeSha256()) {
        d.update(data, 0, data.length);
        return java.util.HexFormat.of().formatHex(d.digest());
      }
    }
  }
}
