package io.layerd.bench.ffi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * jnr-ffi (the binding jnr-posix is built on): an interface implemented by generated code, arrays
 * marked {@code @In} or {@code @Out} so that each is copied one way only.
 */
final class JnrCalls implements NativeCalls {
  /** The C library's functions, each by its prototype. */
  public interface C {
    int getuid();

    int statx(int dirfd, @In byte[] path, int flags, int mask, @Out byte[] buf);

    int fchownat(int dirfd, @In byte[] path, int uid, int gid, int flags);

    int utimensat(int dirfd, @In byte[] path, @In long[] times, int flags);

    int openat(int dirfd, @In byte[] path, int flags, int mode);

    int close(int fd);
  }

  private final C c = LibraryLoader.create(C.class).load("c");
  private final Runtime runtime = Runtime.getRuntime(c);

  @Override
  public int getuid() {
    return c.getuid();
  }

  @Override
  public long fstatat(int dirfd, byte[] name) throws IOException {
    byte[] buf = new byte[256];
    if (c.statx(dirfd, NativeCalls.cstr(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf) != 0) {
      throw NativeCalls.failure("statx", runtime.getLastError());
    }
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    return (b.getShort(STATX_MODE) & 0xffff) + b.getLong(STATX_SIZE);
  }

  @Override
  public void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException {
    if (c.fchownat(dirfd, NativeCalls.cstr(name), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("fchownat", runtime.getLastError());
    }
  }

  @Override
  public void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException {
    long[] times = {sec, nsec, sec, nsec};
    if (c.utimensat(dirfd, NativeCalls.cstr(name), times, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("utimensat", runtime.getLastError());
    }
  }

  @Override
  public void openClose(int dirfd, byte[] name) throws IOException {
    int fd = c.openat(dirfd, NativeCalls.cstr(name), O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
      throw NativeCalls.failure("openat", runtime.getLastError());
    }
    if (c.close(fd) != 0) {
      throw NativeCalls.failure("close", runtime.getLastError());
    }
  }
}
