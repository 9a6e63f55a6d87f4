package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

/**
 * Intel ISA-L's streaming inflate and deflate (igzip_lib.h of libisal.so.2), bound by JNA direct
 * mapping. Package-private: only {@link IsalInflater} and {@link IsalDeflater} call it. The library
 * is optional: {@link #load} answers why it is not there instead of failing. Each {@code long
 * state} is the address of a {@code struct inflate_state}, each {@code long stream} that of a
 * {@code struct isal_zstream}, in native memory.
 */
final class Isal {
  private static boolean loaded;

  private Isal() {}

  /** void isal_inflate_init(struct inflate_state *state); */
  static native void isal_inflate_init(long state);

  /** int isal_inflate(struct inflate_state *state); */
  static native int isal_inflate(long state);

  /** void isal_deflate_init(struct isal_zstream *stream); */
  static native void isal_deflate_init(long stream);

  /** int isal_deflate_set_dict(struct isal_zstream *stream, uint8_t *dict, uint32_t dict_len); */
  static native int isal_deflate_set_dict(long stream, long dict, int dictLen);

  /** int isal_deflate(struct isal_zstream *stream); */
  static native int isal_deflate(long stream);

  /**
   * Why ISA-L is not to be used here ({@code -Dlayerd.isal=false}, not a 64-bit Linux, the library
   * missing), or null once the functions above are bound.
   */
  static String unusable() {
    if (!Boolean.parseBoolean(System.getProperty("layerd.isal", "true"))) {
      return "disabled by -Dlayerd.isal=false";
    }
    if (!Platform.isLinux() || !Platform.is64Bit()) {
      return "ISA-L is bound for 64-bit Linux only";
    }
    return load();
  }

  /** A self-test: null when it passed, else what was wrong. */
  interface SelfTest {
    String run() throws Exception;
  }

  /**
   * Why ISA-L is not to be used for {@code what}: {@link #unusable()}, or what {@code test} found
   * wrong, or how it failed; null when the test passed.
   */
  static String check(String what, SelfTest test) {
    String missing = unusable();
    if (missing != null) {
      return missing;
    }
    try {
      return test.run();
    } catch (Exception | LinkageError e) {
      return "the ISA-L " + what + " self-test failed: " + e;
    }
  }

  /** Text-like bytes for the self-tests: runs of a few letters between runs of noise. */
  static byte[] selfTestData(int size) {
    byte[] data = new byte[size];
    long x = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      data[i] = (byte) ((i % 97 < 60) ? 'a' + (i % 7) : (x & 0x3f));
    }
    return data;
  }

  /**
   * Binds the functions above to libisal.so.2 (Debian's libisal2), or to libisal.so. Returns null
   * when bound, else why not.
   */
  static synchronized String load() {
    if (loaded) {
      return null;
    }
    Throwable last = null;
    for (String name : new String[] {"libisal.so.2", "isal"}) {
      try {
        Native.register(Isal.class, NativeLibrary.getInstance(name));
        loaded = true;
        return null;
      } catch (UnsatisfiedLinkError | IllegalArgumentException e) {
        last = e;
      }
    }
    return "libisal.so.2 (Intel ISA-L) is not installed ("
        + (last == null ? "not found" : last.getMessage())
        + ")";
  }
}
