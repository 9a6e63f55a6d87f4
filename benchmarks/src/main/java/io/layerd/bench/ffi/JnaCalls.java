package io.layerd.bench.ffi;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** JNA direct mapping, bound here as sys's LibC binds it, without Sys's wrapping. */
final class JnaCalls implements NativeCalls {
  /** The C library's functions, each by its prototype. */
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

  @Override
  public int getuid() {
    return C.getuid();
  }

  @Override
  public long fstatat(int dirfd, byte[] name) throws IOException {
    byte[] buf = new byte[256];
    if (C.statx(dirfd, NativeCalls.cstr(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf) != 0) {
      throw NativeCalls.failure("statx", Native.getLastError());
    }
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    return (b.getShort(STATX_MODE) & 0xffff) + b.getLong(STATX_SIZE);
  }

  @Override
  public void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException {
    if (C.fchownat(dirfd, NativeCalls.cstr(name), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("fchownat", Native.getLastError());
    }
  }

  @Override
  public void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException {
    long[] times = {sec, nsec, sec, nsec};
    if (C.utimensat(dirfd, NativeCalls.cstr(name), times, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("utimensat", Native.getLastError());
    }
  }

  @Override
  public void openClose(int dirfd, byte[] name) throws IOException {
    int fd = C.openat(dirfd, NativeCalls.cstr(name), O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
      throw NativeCalls.failure("openat", Native.getLastError());
    }
    if (C.close(fd) != 0) {
      throw NativeCalls.failure("close", Native.getLastError());
    }
  }
}
