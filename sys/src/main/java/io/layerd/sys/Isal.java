package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * Intel ISA-L's streaming inflate (igzip_lib.h of libisal.so.2), bound by JNA direct mapping.
 * Package-private: only {@link IsalInflater} calls it. The library is optional: {@link #load}
 * answers why it is not there instead of failing. Each {@code long state} is the address of a
 * {@code struct inflate_state} in native memory.
 */
final class Isal {
  private Isal() {}

  /** void isal_inflate_init(struct inflate_state *state); */
  static native void isal_inflate_init(long state);

  /** int isal_inflate(struct inflate_state *state); */
  static native int isal_inflate(long state);

  /**
   * Binds the functions above to libisal.so.2 (Debian's libisal2), or to libisal.so. Returns null
   * when bound, else why not.
   */
  static String load() {
    Throwable last = null;
    for (String name : new String[] {"libisal.so.2", "isal"}) {
      try {
        Native.register(Isal.class, NativeLibrary.getInstance(name));
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
