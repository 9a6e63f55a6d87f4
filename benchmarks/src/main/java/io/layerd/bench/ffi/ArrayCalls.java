package io.layerd.bench.ffi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.IntSupplier;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * What the JNA and jnr-ffi bindings share: names and buffers passed as Java arrays (each binding
 * copies them to and from native memory), errno read after a call that returned -1. {@link Raw} is
 * the C functions as the binding gives them.
 */
final class ArrayCalls implements NativeCalls {
  /**
   * The C library's functions, each by its prototype; jnr-ffi implements this interface itself
   * (arrays marked {@code @In} or {@code @Out}, copied one way only), JNA's direct mapping through
   * {@link JnaCalls}.
   */
  public interface Raw {
    /** uid_t getuid(void); */
    int getuid();

    /** int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf); */
    int statx(int dirfd, @In byte[] path, int flags, int mask, @Out byte[] buf);

    /** int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags); */
    int fchownat(int dirfd, @In byte[] path, int uid, int gid, int flags);

    /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags); */
    int utimensat(int dirfd, @In byte[] path, @In long[] times, int flags);

    /** int openat(int dirfd, const char *path, int flags, mode_t mode); */
    int openat(int dirfd, @In byte[] path, int flags, int mode);

    /** int close(int fd); */
    int close(int fd);
  }

  private final Raw c;
  private final IntSupplier errno;

  /** {@code errno}: the binding's errno of the last call that failed on this thread. */
  ArrayCalls(Raw c, IntSupplier errno) {
    this.c = c;
    this.errno = errno;
  }

  @Override
  public int getuid() {
    return c.getuid();
  }

  @Override
  public long fstatat(int dirfd, byte[] name) throws IOException {
    byte[] buf = new byte[256];
    if (c.statx(dirfd, NativeCalls.cstr(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf) != 0) {
      throw NativeCalls.failure("statx", errno.getAsInt());
    }
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    return (b.getShort(STATX_MODE) & 0xffff) + b.getLong(STATX_SIZE);
  }

  @Override
  public void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException {
    if (c.fchownat(dirfd, NativeCalls.cstr(name), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("fchownat", errno.getAsInt());
    }
  }

  @Override
  public void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException {
    long[] times = {sec, nsec, sec, nsec};
    if (c.utimensat(dirfd, NativeCalls.cstr(name), times, AT_SYMLINK_NOFOLLOW) != 0) {
      throw NativeCalls.failure("utimensat", errno.getAsInt());
    }
  }

  @Override
  public void openClose(int dirfd, byte[] name) throws IOException {
    int fd = c.openat(dirfd, NativeCalls.cstr(name), O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
      throw NativeCalls.failure("openat", errno.getAsInt());
    }
    if (c.close(fd) != 0) {
      throw NativeCalls.failure("close", errno.getAsInt());
    }
  }
}
