package io.layerd.bench.ffi;

import java.io.IOException;

/**
 * The native calls the applier makes for every entry, bound once per foreign-function interface
 * that {@code NativeCallBench} compares. Every binding does what {@code io.layerd.sys.Sys} does
 * around a call: the name given as bytes and terminated by a NUL for the C library, the result
 * checked, and errno read when it failed (as an {@link IOException} naming the call and errno).
 */
public interface NativeCalls {
  /** uid_t getuid(void): the cost of a call with nothing to copy. */
  int getuid();

  /** statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf): the mode and size read. */
  long fstatat(int dirfd, byte[] name) throws IOException;

  /** fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW). */
  void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException;

  /** utimensat(dirfd, name, {atime, mtime}, AT_SYMLINK_NOFOLLOW), nanoseconds given. */
  void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException;

  /** openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), then close. */
  void openClose(int dirfd, byte[] name) throws IOException;

  /** Linux's flags and masks, the same on x86-64 and aarch64 where used here. */
  int AT_SYMLINK_NOFOLLOW = 0x100;

  /** STATX_BASIC_STATS. */
  int STATX_BASIC_STATS = 0x7ff;

  /** O_CLOEXEC. */
  int O_CLOEXEC = 02000000;

  /** O_NOFOLLOW on x86-64 (aarch64: 0100000). */
  int O_NOFOLLOW = "aarch64".equals(System.getProperty("os.arch")) ? 0100000 : 0400000;

  /** The byte offsets of stx_mode and stx_size in struct statx. */
  int STATX_MODE = 28;

  /** stx_size. */
  int STATX_SIZE = 40;

  /** A NUL-terminated copy of a name, as every binding hands it to the C library. */
  static byte[] cstr(byte[] name) {
    byte[] c = new byte[name.length + 1];
    System.arraycopy(name, 0, c, 0, name.length);
    return c;
  }

  /** The failure every binding throws: the call and errno. */
  static IOException failure(String call, int errno) {
    return new IOException(call + " failed: errno " + errno);
  }

  /**
   * The binding named {@code sys} (io.layerd.sys.Sys as the applier calls it), {@code jna} (JNA
   * direct mapping), {@code jnr} (jnr-ffi) or {@code ffm} (java.lang.foreign; Java 22 or later, and
   * only when the benchmarks were built with a JDK 22+ at hand).
   */
  static NativeCalls named(String name) {
    switch (name) {
      case "sys":
        return new SysCalls();
      case "jna":
        return JnaCalls.create();
      case "jnr":
        ArrayCalls.Raw c = jnr.ffi.LibraryLoader.create(ArrayCalls.Raw.class).load("c");
        return new ArrayCalls(c, jnr.ffi.Runtime.getRuntime(c)::getLastError);
      case "ffm":
      case "ffm-critical":
        try {
          return Class.forName("io.layerd.bench.ffi.FfmCalls")
              .asSubclass(NativeCalls.class)
              .getConstructor(boolean.class)
              .newInstance(name.equals("ffm-critical"));
        } catch (ReflectiveOperationException | LinkageError e) {
          throw new IllegalStateException(
              "the ffm binding needs Java 22 or later at run time, and benchmarks built where"
                  + " /usr/lib/jvm/temurin-25-jdk-amd64 is present"
                  + " (or with -Pjdk22 -Dlayerd.jdk22=JDK): "
                  + e,
              e);
        }
      default:
        throw new IllegalArgumentException("no binding named " + name);
    }
  }
}
