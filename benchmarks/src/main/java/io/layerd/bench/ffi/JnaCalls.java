package io.layerd.bench.ffi;

import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * JNA direct mapping, bound here as sys's LibC binds it (static natives), without Sys's wrapping.
 */
final class JnaCalls implements ArrayCalls.Raw {
  /** The C library's functions, each by its prototype (see {@link ArrayCalls.Raw}). */
  private static final class C {
    static {
      Native.register(C.class, Platform.C_LIBRARY_NAME);
    }

    private C() {}

    static native int getuid();

    static native int statx(int dirfd, byte[] path, int flags, int mask, byte[] buf);

    static native int fchownat(int dirfd, byte[] path, int uid, int gid, int flags);

    static native int utimensat(int dirfd, byte[] path, long[] times, int flags);

    static native int openat(int dirfd, byte[] path, int flags, int mode);

    static native int close(int fd);
  }

  static NativeCalls create() {
    return new ArrayCalls(new JnaCalls(), Native::getLastError);
  }

  @Override
  public int getuid() {
    return C.getuid();
  }

  @Override
  public int statx(int dirfd, byte[] path, int flags, int mask, byte[] buf) {
    return C.statx(dirfd, path, flags, mask, buf);
  }

  @Override
  public int fchownat(int dirfd, byte[] path, int uid, int gid, int flags) {
    return C.fchownat(dirfd, path, uid, gid, flags);
  }

  @Override
  public int utimensat(int dirfd, byte[] path, long[] times, int flags) {
    return C.utimensat(dirfd, path, times, flags);
  }

  @Override
  public int openat(int dirfd, byte[] path, int flags, int mode) {
    return C.openat(dirfd, path, flags, mode);
  }

  @Override
  public int close(int fd) {
    return C.close(fd);
  }
}
