package io.layerd.bench.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The JDK's foreign-function API (java.lang.foreign, final in Java 22): downcall handles that
 * capture errno. Compiled only where a JDK 22 or later is at hand (the benchmarks' {@code jdk22}
 * profile). Two ways of passing a name:
 *
 * <ul>
 *   <li>{@code ffm}: copied into native memory held by the binding (one thread's scratch buffer, as
 *       a binding in sys would keep per thread);
 *   <li>{@code ffm-critical}: the Java array itself, through {@code Linker.Option.critical(true)}
 *       (no copy; the call may not block for long, which holds for these calls on a local file
 *       system).
 * </ul>
 */
public final class FfmCalls implements NativeCalls {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final VarHandle ERRNO =
      Linker.Option.captureStateLayout()
          .varHandle(MemoryLayout.PathElement.groupElement("errno"));

  private final boolean critical;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
  private final MemorySegment path = arena.allocate(4096);
  private final MemorySegment statx = arena.allocate(256);
  private final MemorySegment times = arena.allocate(JAVA_LONG, 4);
  private final MethodHandle getuid;
  private final MethodHandle statxCall;
  private final MethodHandle fchownat;
  private final MethodHandle utimensat;
  private final MethodHandle openat;
  private final MethodHandle close;

  public FfmCalls(boolean critical) {
    this.critical = critical;
    getuid = handle("getuid", FunctionDescriptor.of(JAVA_INT), false);
    statxCall =
        handle(
            "statx",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS),
            true);
    fchownat =
        handle(
            "fchownat",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT),
            true);
    utimensat =
        handle(
            "utimensat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), true);
    openat =
        handle(
            "openat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), true);
    close = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), true);
  }

  @SuppressWarnings("restricted") // run with --enable-native-access=ALL-UNNAMED to be silent
  private MethodHandle handle(String name, FunctionDescriptor descriptor, boolean errno) {
    MemorySegment address = LINKER.defaultLookup().find(name).orElseThrow();
    if (!errno) {
      return LINKER.downcallHandle(address, descriptor);
    }
    Linker.Option capture = Linker.Option.captureCallState("errno");
    return critical
        ? LINKER.downcallHandle(address, descriptor, capture, Linker.Option.critical(true))
        : LINKER.downcallHandle(address, descriptor, capture);
  }

  /** The name as the C library gets it: the array itself (critical), or copied with its NUL. */
  private MemorySegment name(byte[] name) {
    if (critical) {
      return MemorySegment.ofArray(NativeCalls.cstr(name));
    }
    MemorySegment.copy(name, 0, path, JAVA_BYTE, 0, name.length);
    path.set(JAVA_BYTE, name.length, (byte) 0);
    return path;
  }

  private IOException failure(String call) {
    return NativeCalls.failure(call, (int) ERRNO.get(state, 0L));
  }

  private static RuntimeException unexpected(Throwable t) {
    return t instanceof RuntimeException r ? r : new IllegalStateException(t);
  }

  @Override
  public int getuid() {
    try {
      return (int) getuid.invokeExact();
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  @Override
  public long fstatat(int dirfd, byte[] name) throws IOException {
    int r;
    try {
      r =
          (int)
              statxCall.invokeExact(
                  state, dirfd, name(name), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, statx);
    } catch (Throwable t) {
      throw unexpected(t);
    }
    if (r != 0) {
      throw failure("statx");
    }
    return (statx.get(JAVA_SHORT, STATX_MODE) & 0xffff) + statx.get(JAVA_LONG, STATX_SIZE);
  }

  @Override
  public void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException {
    int r;
    try {
      r = (int) fchownat.invokeExact(state, dirfd, name(name), uid, gid, AT_SYMLINK_NOFOLLOW);
    } catch (Throwable t) {
      throw unexpected(t);
    }
    if (r != 0) {
      throw failure("fchownat");
    }
  }

  @Override
  public void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException {
    times.set(JAVA_LONG, 0, sec);
    times.set(JAVA_LONG, 8, nsec);
    times.set(JAVA_LONG, 16, sec);
    times.set(JAVA_LONG, 24, nsec);
    int r;
    try {
      r = (int) utimensat.invokeExact(state, dirfd, name(name), times, AT_SYMLINK_NOFOLLOW);
    } catch (Throwable t) {
      throw unexpected(t);
    }
    if (r != 0) {
      throw failure("utimensat");
    }
  }

  @Override
  public void openClose(int dirfd, byte[] name) throws IOException {
    int fd;
    int r;
    try {
      fd = (int) openat.invokeExact(state, dirfd, name(name), O_NOFOLLOW | O_CLOEXEC, 0);
      if (fd < 0) {
        throw failure("openat");
      }
      r = (int) close.invokeExact(state, fd);
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw unexpected(t);
    }
    if (r != 0) {
      throw failure("close");
    }
  }
}
