package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * The one native boundary of layerd: every system call any module makes goes through here.
 *
 * <p>Paths cross this boundary as bytes and are relative to an open directory ({@code dirfd}), so
 * that callers can work inside a root without the kernel ever resolving a path they did not mean.
 * Every failure is thrown once, as the closest java.nio.file exception, carrying the call, the
 * path(s) and the errno by name (see {@link SysException#of} and {@link NativeFailure}).
 *
 * <p>Constants are Linux's; where x86_64 and aarch64 differ (open flags) the running architecture's
 * value is used.
 */
public final class Sys {
  private Sys() {}

  private static final boolean AARCH64 = Platform.isARM() && Platform.is64Bit();

  // open(2) flags.
  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_CREAT = 0100;
  public static final int O_EXCL = 0200;
  public static final int O_NOCTTY = 0400;
  public static final int O_TRUNC = 01000;
  public static final int O_APPEND = 02000;
  public static final int O_NONBLOCK = 04000;
  public static final int O_DIRECTORY = AARCH64 ? 040000 : 0200000;
  public static final int O_NOFOLLOW = AARCH64 ? 0100000 : 0400000;
  public static final int O_CLOEXEC = 02000000;
  public static final int O_PATH = 010000000;

  // *at(2) flags.
  public static final int AT_FDCWD = -100;
  public static final int AT_SYMLINK_NOFOLLOW = 0x100;
  public static final int AT_REMOVEDIR = 0x200;
  public static final int AT_SYMLINK_FOLLOW = 0x400;
  public static final int AT_EMPTY_PATH = 0x1000;

  // renameat2(2) flags.
  public static final int RENAME_NOREPLACE = 1;
  public static final int RENAME_EXCHANGE = 2;

  // flock(2) operations.
  private static final int LOCK_EX = 2;
  private static final int LOCK_NB = 4;

  // openat2(2) resolve flags (include/uapi/linux/openat2.h).
  public static final long RESOLVE_NO_XDEV = 0x01;
  public static final long RESOLVE_NO_MAGICLINKS = 0x02;
  public static final long RESOLVE_NO_SYMLINKS = 0x04;
  public static final long RESOLVE_BENEATH = 0x08;
  public static final long RESOLVE_IN_ROOT = 0x10;

  // File types (st_mode & S_IFMT).
  public static final int S_IFMT = 0170000;
  public static final int S_IFSOCK = 0140000;
  public static final int S_IFLNK = 0120000;
  public static final int S_IFREG = 0100000;
  public static final int S_IFBLK = 060000;
  public static final int S_IFDIR = 040000;
  public static final int S_IFCHR = 020000;
  public static final int S_IFIFO = 010000;

  // d_type values.
  public static final int DT_UNKNOWN = 0;
  public static final int DT_FIFO = 1;
  public static final int DT_CHR = 2;
  public static final int DT_DIR = 4;
  public static final int DT_BLK = 6;
  public static final int DT_REG = 8;
  public static final int DT_LNK = 10;
  public static final int DT_SOCK = 12;

  // mount(2) and umount2(2) flags.
  public static final long MS_RDONLY = 1;
  public static final long MS_NOSUID = 2;
  public static final long MS_NODEV = 4;
  public static final long MS_NOEXEC = 8;
  public static final long MS_REMOUNT = 32;
  public static final long MS_BIND = 4096;
  public static final long MS_MOVE = 8192;
  public static final long MS_REC = 16384;
  public static final long MS_PRIVATE = 1L << 18;
  public static final long MS_SLAVE = 1L << 19;
  public static final long MS_SHARED = 1L << 20;
  public static final int MNT_FORCE = 1;
  public static final int MNT_DETACH = 2;
  public static final int UMOUNT_NOFOLLOW = 8;

  // xattr flags.
  public static final int XATTR_CREATE = 1;
  public static final int XATTR_REPLACE = 2;

  /** utimensat(2): leave this time as it is. */
  public static final long UTIME_OMIT = (1L << 30) - 2L;

  /** ioctl FICLONE = _IOW(0x94, 9, int): share the extents of another file (reflink). */
  public static final long FICLONE = 0x40049409L;

  private static final long SYS_OPENAT2 = 437; // the same number on every architecture
  private static final int STATX_BASIC_STATS = 0x7ff;
  private static final int MAX_SYMLINKS = 40; // the kernel's MAXSYMLINKS

  private static final byte[] EMPTY = new byte[1];
  private static final byte[] DOT = {'.', 0};

  // ------------------------------------------------------------------ errors

  private static IOException fail(String call, int dirfd, byte[] path) {
    int errno = Native.getLastError();
    return SysException.of(call, errno, where(dirfd, path), null);
  }

  private static IOException fail(String call, int dirfd, byte[] path, int dirfd2, byte[] path2) {
    int errno = Native.getLastError();
    return SysException.of(call, errno, where(dirfd, path), where(dirfd2, path2));
  }

  /** A readable path for messages: the directory an fd names, joined with a relative path. */
  public static String where(int dirfd, byte[] path) {
    String rel = path == null ? "" : Names.display(path);
    if (path != null && path.length > 0 && path[0] == '/') {
      return rel;
    }
    String base;
    if (dirfd == AT_FDCWD) {
      base = ".";
    } else if (dirfd >= 0) {
      base = fdPath(dirfd);
    } else {
      base = "fd " + dirfd;
    }
    if (rel.isEmpty()) {
      return base;
    }
    return base.endsWith("/") ? base + rel : base + "/" + rel;
  }

  /** The path the kernel gives for an open descriptor (for messages only). */
  public static String fdPath(int fd) {
    byte[] link = Names.cstr(Names.bytes("/proc/self/fd/" + fd));
    byte[] buf = new byte[4096];
    long n = LibC.readlinkat(AT_FDCWD, link, buf, buf.length);
    if (n < 0) {
      return "fd " + fd;
    }
    byte[] out = new byte[(int) n];
    System.arraycopy(buf, 0, out, 0, (int) n);
    return Names.display(out);
  }

  // ------------------------------------------------------------------ open and close

  /** int openat(int dirfd, const char *path, int flags, mode_t mode); O_CLOEXEC is always added. */
  public static int openat(int dirfd, byte[] path, int flags, int mode) throws IOException {
    int fd = LibC.openat(dirfd, Names.cstr(path), flags | O_CLOEXEC, mode);
    if (fd < 0) {
      throw fail("openat", dirfd, path);
    }
    return fd;
  }

  /** Opens an absolute or cwd-relative path. */
  public static int open(String path, int flags, int mode) throws IOException {
    return openat(AT_FDCWD, Names.bytes(path), flags, mode);
  }

  /** Opens a directory for use as a dirfd (O_DIRECTORY, following symlinks in the path). */
  public static Fd openDirectory(String path) throws IOException {
    return new Fd(openat(AT_FDCWD, Names.bytes(path), O_RDONLY | O_DIRECTORY, 0));
  }

  private static volatile Boolean openat2Works;

  /** True when this kernel has openat2(2) (Linux 5.6+) and no filter hides it. */
  public static boolean hasOpenat2() {
    Boolean b = openat2Works;
    if (b == null) {
      long r = LibC.syscall(SYS_OPENAT2, AT_FDCWD, DOT, openHow(O_PATH | O_CLOEXEC, 0, 0), 24);
      if (r >= 0) {
        LibC.close((int) r);
        b = true;
      } else {
        int e = Native.getLastError();
        b = !(e == Errno.ENOSYS.number() || e == Errno.EPERM.number());
      }
      openat2Works = b;
    }
    return b;
  }

  private static byte[] openHow(long flags, long mode, long resolve) {
    ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.nativeOrder());
    b.putLong(flags).putLong(mode).putLong(resolve);
    return b.array();
  }

  /**
   * long openat2(int dirfd, const char *path, struct open_how *how, size_t size); O_CLOEXEC is
   * always added; EAGAIN (a concurrent rename was seen) is retried.
   */
  public static int openat2(int dirfd, byte[] path, int flags, int mode, long resolve)
      throws IOException {
    byte[] c = Names.cstr(path);
    byte[] how = openHow(flags | O_CLOEXEC, (flags & O_CREAT) != 0 ? mode : 0, resolve);
    for (int attempt = 0; ; attempt++) {
      long r = LibC.syscall(SYS_OPENAT2, dirfd, c, how, how.length);
      if (r >= 0) {
        return (int) r;
      }
      if (Native.getLastError() != Errno.EAGAIN.number() || attempt >= 16) {
        throw fail("openat2", dirfd, path);
      }
    }
  }

  /**
   * Opens {@code path} as if {@code rootFd} were the root directory: an absolute symlink resolves
   * from the root, {@code ..} stops at the root, magic links are refused, and nothing outside the
   * root is ever reached. The final component is followed unless {@code flags} holds O_NOFOLLOW.
   * Uses openat2 with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS where the kernel has it, else {@link
   * #openInRootByWalk}.
   */
  public static int openInRoot(int rootFd, byte[] path, int flags, int mode) throws IOException {
    if (!hasOpenat2()) {
      return openInRootByWalk(rootFd, path, flags, mode);
    }
    if (path.length < PATH_MAX) {
      return openat2(rootFd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    }
    return openLongInRoot(rootFd, path, flags, mode);
  }

  /** PATH_MAX of linux/limits.h, the terminating NUL included: the longest path a call takes. */
  public static final int PATH_MAX = 4096;

  /**
   * {@link #openInRoot} of a path too long for one call (a tree deeper than PATH_MAX allows to
   * spell at once): opened in pieces of whole components, each under PATH_MAX, with openat2
   * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from the directory the piece before led to. Without a
   * symlink or a climb above the piece's start, that is exactly what resolving in the root gives;
   * where a piece meets either (ELOOP, EXDEV) the path is walked by hand ({@link
   * #openInRootByWalk}).
   */
  private static int openLongInRoot(int rootFd, byte[] path, int flags, int mode)
      throws IOException {
    long resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int cur = rootFd;
    int start = 0;
    try {
      while (true) {
        int end = start + PATH_MAX - 1;
        boolean last = end >= path.length;
        if (!last) {
          while (end > start && path[end] != '/') {
            end--;
          }
          if (end == start) {
            throw SysException.of(
                "openat2", Errno.ENAMETOOLONG.number(), where(rootFd, path), null);
          }
        }
        byte[] piece = Arrays.copyOfRange(path, start, last ? path.length : end);
        int next;
        try {
          next =
              last
                  ? openat2(cur, piece, flags, mode, resolve)
                  : openat2(cur, piece, O_PATH | O_DIRECTORY, 0, resolve);
        } catch (IOException e) {
          Errno errno = NativeFailure.errnoOf(e);
          if (errno == Errno.ELOOP || errno == Errno.EXDEV) {
            return openInRootByWalk(rootFd, path, flags, mode);
          }
          throw e;
        }
        if (cur != rootFd) {
          closeQuietly(cur);
        }
        cur = next;
        if (last) {
          int out = cur;
          cur = rootFd;
          return out;
        }
        start = end + 1;
      }
    } finally {
      if (cur != rootFd) {
        closeQuietly(cur);
      }
    }
  }

  /**
   * The same contract as {@link #openInRoot}, for kernels without openat2: a walk one component at
   * a time with O_NOFOLLOW, reading each symlink and splicing its target into the rest of the path
   * (an absolute target restarts at the root), with a {@link DirWalk} so that {@code ..} never goes
   * above the root and one descriptor is held whatever the depth. Public so that both paths are
   * tested everywhere.
   */
  public static int openInRootByWalk(int rootFd, byte[] path, int flags, int mode)
      throws IOException {
    if (path.length == 0) {
      throw SysException.of("openat (walk)", Errno.ENOENT.number(), where(rootFd, path), null);
    }
    Deque<byte[]> rest = new ArrayDeque<>(Names.split(path));
    if (path[path.length - 1] == '/') {
      if ((flags & O_CREAT) != 0) {
        throw SysException.of("openat (walk)", Errno.EISDIR.number(), where(rootFd, path), null);
      }
      // "name/" must be a directory: walking "name/." makes the last real component a parent,
      // which is opened O_DIRECTORY (and followed if it is a symlink), as the kernel does.
      rest.add(new byte[] {'.'});
    }
    boolean followLast = (flags & O_NOFOLLOW) == 0;
    int links = 0;
    try (DirWalk walk = new DirWalk(rootFd)) { // one descriptor whatever the depth
      while (true) {
        int cur = walk.current();
        byte[] c = rest.poll();
        if (c == null) {
          // The path named a directory of the walk (or the root itself): reopen it as asked.
          return openat(cur, new byte[] {'.'}, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), mode);
        }
        if (Names.isDot(c)) {
          continue;
        }
        if (Names.isDotDot(c)) {
          walk.up();
          continue;
        }
        boolean last = rest.isEmpty();
        Stat st = null;
        try {
          st = fstatat(cur, c, AT_SYMLINK_NOFOLLOW);
        } catch (IOException e) {
          if (!(last && (flags & O_CREAT) != 0 && NativeFailure.errnoOf(e) == Errno.ENOENT)) {
            throw e;
          }
        }
        if (st != null && st.isSymlink() && (!last || followLast)) {
          if (++links > MAX_SYMLINKS) {
            throw SysException.of("openat (walk)", Errno.ELOOP.number(), where(rootFd, path), null);
          }
          byte[] target = readlinkat(cur, c);
          List<byte[]> parts = Names.split(target);
          for (int i = parts.size() - 1; i >= 0; i--) {
            rest.push(parts.get(i));
          }
          if (target.length > 0 && target[0] == '/') {
            walk.toRoot();
          }
          continue;
        }
        if (last) {
          return openat(cur, c, flags | O_NOFOLLOW, mode);
        }
        walk.enter(c);
      }
    }
  }

  /** int close(int fd); */
  public static void close(int fd) throws IOException {
    if (LibC.close(fd) != 0) {
      int errno = Native.getLastError();
      if (errno != Errno.EINTR.number()) {
        throw SysException.of("close", errno, "fd " + fd, null);
      }
    }
  }

  /** Closes a descriptor, ignoring any error (for clean-up paths). */
  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      LibC.close(fd);
    }
  }

  /** int dup(int fd); the copy is not close-on-exec. */
  public static int dup(int fd) throws IOException {
    int r = LibC.dup(fd);
    if (r < 0) {
      throw fail("dup", fd, null);
    }
    return r;
  }

  // ------------------------------------------------------------------ making and removing names

  /** int mkdirat(int dirfd, const char *path, mode_t mode); */
  public static void mkdirat(int dirfd, byte[] path, int mode) throws IOException {
    if (LibC.mkdirat(dirfd, Names.cstr(path), mode) != 0) {
      throw fail("mkdirat", dirfd, path);
    }
  }

  /** int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev); */
  public static void mknodat(int dirfd, byte[] path, int mode, long major, long minor)
      throws IOException {
    if (LibC.mknodat(dirfd, Names.cstr(path), mode, makedev(major, minor)) != 0) {
      throw fail("mknodat", dirfd, path);
    }
  }

  /** glibc's gnu_dev_makedev. */
  public static long makedev(long major, long minor) {
    return ((major & 0xfffff000L) << 32)
        | ((major & 0xfffL) << 8)
        | ((minor & 0xffffff00L) << 12)
        | (minor & 0xffL);
  }

  /** int symlinkat(const char *target, int newdirfd, const char *linkpath); */
  public static void symlinkat(byte[] target, int dirfd, byte[] linkpath) throws IOException {
    if (LibC.symlinkat(Names.cstr(target), dirfd, Names.cstr(linkpath)) != 0) {
      throw fail("symlinkat", dirfd, linkpath, AT_FDCWD, target);
    }
  }

  /** int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int f); */
  public static void linkat(int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags)
      throws IOException {
    if (LibC.linkat(olddirfd, Names.cstr(oldpath), newdirfd, Names.cstr(newpath), flags) != 0) {
      throw fail("linkat", newdirfd, newpath, olddirfd, oldpath);
    }
  }

  /** int unlinkat(int dirfd, const char *path, int flags); */
  public static void unlinkat(int dirfd, byte[] path, int flags) throws IOException {
    if (LibC.unlinkat(dirfd, Names.cstr(path), flags) != 0) {
      throw fail("unlinkat", dirfd, path);
    }
  }

  /** int renameat2(int olddirfd, const char *old, int newdirfd, const char *new, uint flags); */
  public static void renameat2(
      int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags) throws IOException {
    if (LibC.renameat2(olddirfd, Names.cstr(oldpath), newdirfd, Names.cstr(newpath), flags) != 0) {
      throw fail("renameat2", olddirfd, oldpath, newdirfd, newpath);
    }
  }

  /** ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size); the target bytes. */
  public static byte[] readlinkat(int dirfd, byte[] path) throws IOException {
    byte[] c = Names.cstr(path);
    int size = 256;
    while (true) {
      byte[] buf = new byte[size];
      long n = LibC.readlinkat(dirfd, c, buf, size);
      if (n < 0) {
        throw fail("readlinkat", dirfd, path);
      }
      if (n < size) {
        byte[] out = new byte[(int) n];
        System.arraycopy(buf, 0, out, 0, (int) n);
        return out;
      }
      size *= 4;
    }
  }

  // ------------------------------------------------------------------ owners, modes, times

  /** int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags); */
  public static void fchownat(int dirfd, byte[] path, long uid, long gid, int flags)
      throws IOException {
    if (LibC.fchownat(dirfd, Names.cstr(path), (int) uid, (int) gid, flags) != 0) {
      throw fail("fchownat", dirfd, path);
    }
  }

  /** int fchown(int fd, uid_t owner, gid_t group); */
  public static void fchown(int fd, long uid, long gid) throws IOException {
    if (LibC.fchown(fd, (int) uid, (int) gid) != 0) {
      throw fail("fchown", fd, null);
    }
  }

  /** int lchown(const char *path, uid_t owner, gid_t group); */
  public static void lchown(byte[] path, long uid, long gid) throws IOException {
    if (LibC.lchown(Names.cstr(path), (int) uid, (int) gid) != 0) {
      throw fail("lchown", AT_FDCWD, path);
    }
  }

  /**
   * int fchmodat(int dirfd, const char *path, mode_t mode, int flags); glibc refuses
   * AT_SYMLINK_NOFOLLOW with ENOTSUP on kernels without fchmodat2: open the file O_NOFOLLOW and use
   * {@link #fchmod} instead when the name may be a symlink.
   */
  public static void fchmodat(int dirfd, byte[] path, int mode, int flags) throws IOException {
    if (LibC.fchmodat(dirfd, Names.cstr(path), mode, flags) != 0) {
      throw fail("fchmodat", dirfd, path);
    }
  }

  /**
   * int flock(int fd, LOCK_EX | LOCK_NB); an exclusive lock on the open file (a directory too),
   * released when every descriptor of that open file is closed, so also when its process dies. True
   * when taken, false when another open file holds it.
   */
  public static boolean tryFlockExclusive(int fd) throws IOException {
    if (LibC.flock(fd, LOCK_EX | LOCK_NB) == 0) {
      return true;
    }
    if (Native.getLastError() == Errno.EAGAIN.number()) {
      return false;
    }
    throw fail("flock", fd, null);
  }

  /** int flock(int fd, LOCK_EX); waits until the exclusive lock is taken. */
  public static void flockExclusive(int fd) throws IOException {
    while (LibC.flock(fd, LOCK_EX) != 0) {
      if (Native.getLastError() != Errno.EINTR.number()) {
        throw fail("flock", fd, null);
      }
    }
  }

  /** int fchmod(int fd, mode_t mode); */
  public static void fchmod(int fd, int mode) throws IOException {
    if (LibC.fchmod(fd, mode) != 0) {
      throw fail("fchmod", fd, null);
    }
  }

  /**
   * int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags); with
   * nanoseconds. Pass {@link #UTIME_OMIT} as a nanosecond value to leave that time alone.
   */
  public static void utimensat(
      int dirfd,
      byte[] path,
      long atimeSec,
      long atimeNsec,
      long mtimeSec,
      long mtimeNsec,
      int flags)
      throws IOException {
    long[] times = {atimeSec, atimeNsec, mtimeSec, mtimeNsec};
    if (LibC.utimensat(dirfd, Names.cstr(path), times, flags) != 0) {
      throw fail("utimensat", dirfd, path);
    }
  }

  /** int futimens(int fd, const struct timespec times[2]); */
  public static void futimens(int fd, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec)
      throws IOException {
    long[] times = {atimeSec, atimeNsec, mtimeSec, mtimeNsec};
    if (LibC.futimens(fd, times) != 0) {
      throw fail("futimens", fd, null);
    }
  }

  // ------------------------------------------------------------------ extended attributes

  /**
   * The path through which the l*xattr calls reach {@code name} inside an open directory without
   * following it: /proc/self/fd/DIRFD/NAME. {@code name} must be one component.
   */
  private static byte[] atPath(int dirfd, byte[] name) {
    for (byte b : name) {
      if (b == '/') {
        throw new IllegalArgumentException("not a single file name: " + Names.display(name));
      }
    }
    byte[] prefix = ("/proc/self/fd/" + dirfd + "/").getBytes(StandardCharsets.US_ASCII);
    byte[] p = new byte[prefix.length + name.length];
    System.arraycopy(prefix, 0, p, 0, prefix.length);
    System.arraycopy(name, 0, p, prefix.length, name.length);
    return p;
  }

  /** int lsetxattr(const char *path, ...) on the entry {@code name} of the directory dirfd. */
  public static void lsetxattrAt(int dirfd, byte[] name, String attr, byte[] value, int flags)
      throws IOException {
    byte[] p = atPath(dirfd, name);
    if (LibC.lsetxattr(Names.cstr(p), Names.cstr(Names.bytes(attr)), value, value.length, flags)
        != 0) {
      throw SysException.of(
          "lsetxattr(" + attr + ")", Native.getLastError(), where(dirfd, name), null);
    }
  }

  /** int lsetxattr(const char *path, const char *name, const void *value, size_t size, int f); */
  public static void lsetxattr(byte[] path, String attr, byte[] value, int flags)
      throws IOException {
    if (LibC.lsetxattr(Names.cstr(path), Names.cstr(Names.bytes(attr)), value, value.length, flags)
        != 0) {
      throw SysException.of(
          "lsetxattr(" + attr + ")", Native.getLastError(), where(AT_FDCWD, path), null);
    }
  }

  /** ssize_t lgetxattr(...) on {@code name} inside dirfd; null when the attribute is absent. */
  public static byte[] lgetxattrAt(int dirfd, byte[] name, String attr) throws IOException {
    return lgetxattr(atPath(dirfd, name), attr);
  }

  /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size); */
  public static byte[] lgetxattr(byte[] path, String attr) throws IOException {
    byte[] c = Names.cstr(path);
    byte[] a = Names.cstr(Names.bytes(attr));
    while (true) {
      long size = LibC.lgetxattr(c, a, null, 0);
      if (size < 0) {
        int e = Native.getLastError();
        if (e == Errno.ENODATA.number()) {
          return null;
        }
        throw SysException.of("lgetxattr(" + attr + ")", e, where(AT_FDCWD, path), null);
      }
      byte[] buf = new byte[(int) size];
      long n = size == 0 ? 0 : LibC.lgetxattr(c, a, buf, size);
      if (n >= 0) {
        return n == size ? buf : java.util.Arrays.copyOf(buf, (int) n);
      }
      int e = Native.getLastError();
      if (e != Errno.ERANGE.number()) {
        throw SysException.of("lgetxattr(" + attr + ")", e, where(AT_FDCWD, path), null);
      }
    }
  }

  /** ssize_t llistxattr(...) on {@code name} inside dirfd. */
  public static List<String> llistxattrAt(int dirfd, byte[] name) throws IOException {
    return llistxattr(atPath(dirfd, name));
  }

  /** ssize_t llistxattr(const char *path, char *list, size_t size); the names in kernel order. */
  public static List<String> llistxattr(byte[] path) throws IOException {
    byte[] c = Names.cstr(path);
    while (true) {
      long size = LibC.llistxattr(c, null, 0);
      if (size < 0) {
        int e = Native.getLastError();
        if (e == Errno.EOPNOTSUPP.number()) {
          return List.of();
        }
        throw SysException.of("llistxattr", e, where(AT_FDCWD, path), null);
      }
      byte[] buf = new byte[(int) size];
      long n = size == 0 ? 0 : LibC.llistxattr(c, buf, size);
      if (n >= 0) {
        return splitNul(buf, (int) n);
      }
      int e = Native.getLastError();
      if (e != Errno.ERANGE.number()) {
        throw SysException.of("llistxattr", e, where(AT_FDCWD, path), null);
      }
    }
  }

  /** int lremovexattr(...) on {@code name} inside dirfd. */
  public static void lremovexattrAt(int dirfd, byte[] name, String attr) throws IOException {
    if (LibC.lremovexattr(Names.cstr(atPath(dirfd, name)), Names.cstr(Names.bytes(attr))) != 0) {
      throw SysException.of(
          "lremovexattr(" + attr + ")", Native.getLastError(), where(dirfd, name), null);
    }
  }

  /** int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags); */
  public static void fsetxattr(int fd, String attr, byte[] value, int flags) throws IOException {
    if (LibC.fsetxattr(fd, Names.cstr(Names.bytes(attr)), value, value.length, flags) != 0) {
      throw SysException.of("fsetxattr(" + attr + ")", Native.getLastError(), fdPath(fd), null);
    }
  }

  /** ssize_t fgetxattr(int fd, const char *name, void *value, size_t size); null when absent. */
  public static byte[] fgetxattr(int fd, String attr) throws IOException {
    byte[] a = Names.cstr(Names.bytes(attr));
    while (true) {
      long size = LibC.fgetxattr(fd, a, null, 0);
      if (size < 0) {
        int e = Native.getLastError();
        if (e == Errno.ENODATA.number()) {
          return null;
        }
        throw SysException.of("fgetxattr(" + attr + ")", e, fdPath(fd), null);
      }
      byte[] buf = new byte[(int) size];
      long n = size == 0 ? 0 : LibC.fgetxattr(fd, a, buf, size);
      if (n >= 0) {
        return n == size ? buf : java.util.Arrays.copyOf(buf, (int) n);
      }
      int e = Native.getLastError();
      if (e != Errno.ERANGE.number()) {
        throw SysException.of("fgetxattr(" + attr + ")", e, fdPath(fd), null);
      }
    }
  }

  /** ssize_t flistxattr(int fd, char *list, size_t size); */
  public static List<String> flistxattr(int fd) throws IOException {
    while (true) {
      long size = LibC.flistxattr(fd, null, 0);
      if (size < 0) {
        int e = Native.getLastError();
        if (e == Errno.EOPNOTSUPP.number()) {
          return List.of();
        }
        throw SysException.of("flistxattr", e, fdPath(fd), null);
      }
      byte[] buf = new byte[(int) size];
      long n = size == 0 ? 0 : LibC.flistxattr(fd, buf, size);
      if (n >= 0) {
        return splitNul(buf, (int) n);
      }
      int e = Native.getLastError();
      if (e != Errno.ERANGE.number()) {
        throw SysException.of("flistxattr", e, fdPath(fd), null);
      }
    }
  }

  private static List<String> splitNul(byte[] buf, int n) {
    List<String> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < n; i++) {
      if (buf[i] == 0) {
        if (i > start) {
          out.add(new String(buf, start, i - start, StandardCharsets.UTF_8));
        }
        start = i + 1;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ stat

  /**
   * fstatat as statx(int dirfd, const char *path, int flags, STATX_BASIC_STATS, struct statx *);
   * pass AT_SYMLINK_NOFOLLOW not to follow a final symlink, and an empty path with AT_EMPTY_PATH
   * for the descriptor itself.
   */
  public static Stat fstatat(int dirfd, byte[] path, int flags) throws IOException {
    byte[] buf = new byte[256];
    if (LibC.statx(
            dirfd, path.length == 0 ? EMPTY : Names.cstr(path), flags, STATX_BASIC_STATS, buf)
        != 0) {
      throw fail("statx", dirfd, path);
    }
    return stat(buf);
  }

  /**
   * {@link #fstatat}, or null when the name does not exist (ENOENT): the common answer of a lookup
   * before a name is made, given without building an exception (its message and stack trace cost
   * more than the call).
   */
  public static Stat fstatatOrNull(int dirfd, byte[] path, int flags) throws IOException {
    byte[] buf = new byte[256];
    if (LibC.statx(
            dirfd, path.length == 0 ? EMPTY : Names.cstr(path), flags, STATX_BASIC_STATS, buf)
        != 0) {
      int errno = Native.getLastError();
      if (errno == Errno.ENOENT.number()) {
        return null;
      }
      throw SysException.of("statx", errno, where(dirfd, path), null);
    }
    return stat(buf);
  }

  /** The fields of a {@code struct statx} that {@link Stat} holds. */
  private static Stat stat(byte[] buf) {
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    long nlink = Integer.toUnsignedLong(b.getInt(16));
    long uid = Integer.toUnsignedLong(b.getInt(20));
    long gid = Integer.toUnsignedLong(b.getInt(24));
    int mode = b.getShort(28) & 0xffff;
    long ino = b.getLong(32);
    long size = b.getLong(40);
    long blocks = b.getLong(48);
    long atime = b.getLong(64);
    int atimeNs = b.getInt(72);
    long ctime = b.getLong(96);
    int ctimeNs = b.getInt(104);
    long mtime = b.getLong(112);
    int mtimeNs = b.getInt(120);
    long rdevMajor = Integer.toUnsignedLong(b.getInt(128));
    long rdevMinor = Integer.toUnsignedLong(b.getInt(132));
    long dev =
        makedev(Integer.toUnsignedLong(b.getInt(136)), Integer.toUnsignedLong(b.getInt(140)));
    return new Stat(
        dev, ino, mode, nlink, uid, gid, rdevMajor, rdevMinor, size, blocks, atime, atimeNs, mtime,
        mtimeNs, ctime, ctimeNs);
  }

  /** fstat(fd) through statx with AT_EMPTY_PATH. */
  public static Stat fstat(int fd) throws IOException {
    return fstatat(fd, new byte[0], AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  }

  /** lstat of an absolute or cwd-relative path. */
  public static Stat lstat(String path) throws IOException {
    return fstatat(AT_FDCWD, Names.bytes(path), AT_SYMLINK_NOFOLLOW);
  }

  /** int statfs(const char *path, struct statfs *buf); */
  public static StatFs statfs(String path) throws IOException {
    byte[] buf = new byte[256];
    byte[] p = Names.bytes(path);
    if (LibC.statfs(Names.cstr(p), buf) != 0) {
      throw fail("statfs", AT_FDCWD, p);
    }
    return parseStatFs(buf);
  }

  /** int fstatfs(int fd, struct statfs *buf); */
  public static StatFs fstatfs(int fd) throws IOException {
    byte[] buf = new byte[256];
    if (LibC.fstatfs(fd, buf) != 0) {
      throw fail("fstatfs", fd, null);
    }
    return parseStatFs(buf);
  }

  /** struct statfs on 64-bit Linux: seven longs, fsid (8 bytes), namelen, frsize, flags. */
  private static StatFs parseStatFs(byte[] buf) {
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    long type = b.getLong(0);
    if (!Platform.is64Bit()) {
      throw new UnsupportedOperationException("statfs is decoded for 64-bit Linux only");
    }
    return new StatFs(
        type & 0xffffffffL,
        b.getLong(8),
        b.getLong(16),
        b.getLong(24),
        b.getLong(32),
        b.getLong(40),
        b.getLong(48),
        b.getLong(64),
        b.getLong(72),
        b.getLong(80));
  }

  /** int uname(struct utsname *buf); */
  public static Uname uname() throws IOException {
    byte[] buf = new byte[65 * 6];
    if (LibC.uname(buf) != 0) {
      throw fail("uname", AT_FDCWD, null);
    }
    String[] f = new String[5];
    for (int i = 0; i < 5; i++) {
      int start = i * 65;
      int end = start;
      while (end < start + 65 && buf[end] != 0) {
        end++;
      }
      f[i] = new String(buf, start, end - start, StandardCharsets.UTF_8);
    }
    return new Uname(f[0], f[1], f[2], f[3], f[4]);
  }

  // ------------------------------------------------------------------ directories

  /**
   * ssize_t getdents64(int fd, void *dirp, size_t count); reads every entry of an open directory
   * except "." and "..", names as bytes.
   */
  public static List<DirEntry> readDirectory(int dirFd) throws IOException {
    List<DirEntry> out = new ArrayList<>();
    byte[] buf = new byte[32768];
    if (LibC.lseek(dirFd, 0, 0) < 0) {
      throw fail("lseek", dirFd, null);
    }
    while (true) {
      long n = LibC.getdents64(dirFd, buf, buf.length);
      if (n < 0) {
        throw fail("getdents64", dirFd, null);
      }
      if (n == 0) {
        return out;
      }
      ByteBuffer b = ByteBuffer.wrap(buf, 0, (int) n).order(ByteOrder.nativeOrder());
      int pos = 0;
      while (pos < n) {
        long ino = b.getLong(pos);
        int reclen = b.getShort(pos + 16) & 0xffff;
        int type = buf[pos + 18] & 0xff;
        int nameStart = pos + 19;
        int nameEnd = nameStart;
        while (nameEnd < pos + reclen && buf[nameEnd] != 0) {
          nameEnd++;
        }
        byte[] name = java.util.Arrays.copyOfRange(buf, nameStart, nameEnd);
        if (!Names.isDot(name) && !Names.isDotDot(name)) {
          out.add(new DirEntry(name, ino, type));
        }
        pos += reclen;
      }
    }
  }

  // ------------------------------------------------------------------ mounts

  /** int mount(const char *source, const char *target, const char *type, ulong flags, void *d); */
  public static void mount(String source, String target, String fstype, long flags, String data)
      throws IOException {
    byte[] t = Names.bytes(target);
    int r =
        LibC.mount(
            source == null ? null : Names.cstr(Names.bytes(source)),
            Names.cstr(t),
            fstype == null ? null : Names.cstr(Names.bytes(fstype)),
            flags,
            data == null ? null : Names.cstr(Names.bytes(data)));
    if (r != 0) {
      int errno = Native.getLastError();
      throw SysException.of(
          "mount(" + fstype + (data == null ? "" : ", " + data) + ")", errno, target, source);
    }
  }

  /** int umount2(const char *target, int flags); */
  public static void umount2(String target, int flags) throws IOException {
    byte[] t = Names.bytes(target);
    if (LibC.umount2(Names.cstr(t), flags) != 0) {
      throw fail("umount2", AT_FDCWD, t);
    }
  }

  // ------------------------------------------------------------------ ioctl, sync, copy

  /** int ioctl(int fd, unsigned long request, long arg); */
  public static int ioctl(int fd, long request, long arg) throws IOException {
    int r = LibC.ioctl(fd, request, arg);
    if (r < 0) {
      throw SysException.of(
          String.format("ioctl(0x%x)", request), Native.getLastError(), fdPath(fd), null);
    }
    return r;
  }

  /** int ioctl(int fd, unsigned long request, void *arg); the structure is read back into arg. */
  public static int ioctl(int fd, long request, byte[] arg) throws IOException {
    int r = LibC.ioctl(fd, request, arg);
    if (r < 0) {
      throw SysException.of(
          String.format("ioctl(0x%x)", request), Native.getLastError(), fdPath(fd), null);
    }
    return r;
  }

  /** ioctl(dest, FICLONE, src): make dest share src's extents (btrfs, xfs with reflink). */
  public static void ficlone(int destFd, int srcFd) throws IOException {
    if (LibC.ioctl(destFd, FICLONE, srcFd) < 0) {
      throw SysException.of("ioctl(FICLONE)", Native.getLastError(), fdPath(destFd), fdPath(srcFd));
    }
  }

  /** ioctl FS_IOC_GETFLAGS = _IOR('f', 1, long): a file's inode flags (chattr's). */
  private static final long FS_IOC_GETFLAGS = 0x80086601L;

  /** ioctl FS_IOC_SETFLAGS = _IOW('f', 2, long). */
  private static final long FS_IOC_SETFLAGS = 0x40086602L;

  /** FS_TOPDIR_FL (chattr +T): "top of directory hierarchies", for ext2/3/4's Orlov allocator. */
  private static final int FS_TOPDIR_FL = 0x00020000;

  /**
   * Marks a directory as the top of unrelated directory hierarchies ({@code chattr +T}): ext4's
   * Orlov allocator then places each directory made in it in a block group of its own choosing, as
   * it does a filesystem root's, instead of beside its parent. Best effort: false where the
   * filesystem has no such flag (anything but ext2/3/4) or refuses it; the directory works the same
   * either way.
   */
  public static boolean markTopDirectory(int dirFd) {
    // The kernel reads and writes an int, whatever the request's size says.
    ByteBuffer flags = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
    if (LibC.ioctl(dirFd, FS_IOC_GETFLAGS, flags.array()) < 0) {
      return false;
    }
    int f = flags.getInt(0);
    if ((f & FS_TOPDIR_FL) != 0) {
      return true;
    }
    flags.putInt(0, f | FS_TOPDIR_FL);
    return LibC.ioctl(dirFd, FS_IOC_SETFLAGS, flags.array()) == 0;
  }

  /** int fsync(int fd); */
  public static void fsync(int fd) throws IOException {
    if (LibC.fsync(fd) != 0) {
      throw fail("fsync", fd, null);
    }
  }

  /** int fdatasync(int fd); */
  public static void fdatasync(int fd) throws IOException {
    if (LibC.fdatasync(fd) != 0) {
      throw fail("fdatasync", fd, null);
    }
  }

  /** int syncfs(int fd); */
  public static void syncfs(int fd) throws IOException {
    if (LibC.syncfs(fd) != 0) {
      throw fail("syncfs", fd, null);
    }
  }

  /**
   * ssize_t copy_file_range(int in, NULL, int out, NULL, size_t len, 0); copies from the current
   * offsets. Returns the bytes copied (0 at the end of the input).
   */
  public static long copyFileRange(int fdIn, int fdOut, long len) throws IOException {
    while (true) {
      long n = LibC.copy_file_range(fdIn, null, fdOut, null, len, 0);
      if (n >= 0) {
        return n;
      }
      int e = Native.getLastError();
      if (e != Errno.EINTR.number()) {
        throw SysException.of("copy_file_range", e, fdPath(fdIn), fdPath(fdOut));
      }
    }
  }

  // ------------------------------------------------------------------ read and write

  private static long address(ByteBuffer direct) {
    if (!direct.isDirect()) {
      throw new IllegalArgumentException("a direct buffer is needed");
    }
    return Pointer.nativeValue(Native.getDirectBufferPointer(direct));
  }

  /**
   * ssize_t read(int fd, void *buf, size_t count); into a direct buffer between its position and
   * limit, advancing the position. Returns the bytes read, 0 at the end.
   */
  public static int read(int fd, ByteBuffer direct) throws IOException {
    long addr = address(direct) + direct.position();
    while (true) {
      long n = LibC.read(fd, addr, direct.remaining());
      if (n >= 0) {
        direct.position(direct.position() + (int) n);
        return (int) n;
      }
      if (Native.getLastError() != Errno.EINTR.number()) {
        throw fail("read", fd, null);
      }
    }
  }

  /**
   * ssize_t write(int fd, const void *buf, size_t count); writes everything between a direct
   * buffer's position and limit, advancing the position.
   */
  public static void writeFully(int fd, ByteBuffer direct) throws IOException {
    long base = address(direct);
    while (direct.hasRemaining()) {
      long n = LibC.write(fd, base + direct.position(), direct.remaining());
      if (n < 0) {
        if (Native.getLastError() == Errno.EINTR.number()) {
          continue;
        }
        throw fail("write", fd, null);
      }
      direct.position(direct.position() + (int) n);
    }
  }

  /**
   * ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); writes everything between
   * a direct buffer's position and limit at {@code offset}, advancing the position.
   */
  public static void pwriteFully(int fd, ByteBuffer direct, long offset) throws IOException {
    long base = address(direct);
    long at = offset;
    while (direct.hasRemaining()) {
      long n = LibC.pwrite(fd, base + direct.position(), direct.remaining(), at);
      if (n < 0) {
        if (Native.getLastError() == Errno.EINTR.number()) {
          continue;
        }
        throw fail("pwrite", fd, null);
      }
      direct.position(direct.position() + (int) n);
      at += n;
    }
  }

  /** int ftruncate(int fd, off_t length); */
  public static void ftruncate(int fd, long length) throws IOException {
    if (LibC.ftruncate(fd, length) != 0) {
      throw fail("ftruncate", fd, null);
    }
  }

  // ------------------------------------------------------------------ identity

  /** uid_t getuid(void); unsigned. */
  public static long getuid() {
    return Integer.toUnsignedLong(LibC.getuid());
  }

  /** uid_t geteuid(void); unsigned. */
  public static long geteuid() {
    return Integer.toUnsignedLong(LibC.geteuid());
  }

  /** gid_t getgid(void); unsigned. */
  public static long getgid() {
    return Integer.toUnsignedLong(LibC.getgid());
  }

  /** gid_t getegid(void); unsigned. */
  public static long getegid() {
    return Integer.toUnsignedLong(LibC.getegid());
  }

  /** The process's umask, read by setting and restoring it. */
  public static synchronized int umask() {
    int old = LibC.umask(022);
    LibC.umask(old);
    return old;
  }

  // ================================================================== btrfs subvolumes
  // Appended for the btrfs driver (drivers/btrfs). Keep additions of other callers out of this
  // section. Values from include/uapi/linux/btrfs.h and include/uapi/asm-generic/ioctl.h:
  //
  //   _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr
  //   _IOW = _IOC(_IOC_WRITE = 1, ...), _IOR = _IOC(_IOC_READ = 2, ...)
  //   BTRFS_IOCTL_MAGIC = 0x94
  //
  //   struct btrfs_ioctl_vol_args { __s64 fd; char name[BTRFS_PATH_NAME_MAX + 1]; }
  //     BTRFS_PATH_NAME_MAX = 4087: 8 + 4088 = 4096 bytes (0x1000)
  //   struct btrfs_ioctl_vol_args_v2 { __s64 fd; __u64 transid; __u64 flags;
  //     union { struct { __u64 size; struct btrfs_qgroup_inherit *qgroup_inherit; };
  //             __u64 unused[4]; };                                    (32 bytes)
  //     union { char name[BTRFS_SUBVOL_NAME_MAX + 1]; __u64 devid; __u64 subvolid; }; }
  //     BTRFS_SUBVOL_NAME_MAX = 4039: 8 + 8 + 8 + 32 + 4040 = 4096 bytes (0x1000), name at 56
  //
  //   BTRFS_IOC_SUBVOL_CREATE   _IOW(0x94, 14, vol_args)    = 1<<30 | 0x1000<<16 | 0x9400 | 0x0e
  //                                                         = 0x5000940e
  //   BTRFS_IOC_SNAP_DESTROY    _IOW(0x94, 15, vol_args)    = 0x5000940f
  //   BTRFS_IOC_SNAP_CREATE_V2  _IOW(0x94, 23, vol_args_v2) = 0x50009417
  //   BTRFS_IOC_SUBVOL_GETFLAGS _IOR(0x94, 25, __u64)       = 2<<30 | 8<<16 | 0x9400 | 0x19
  //                                                         = 0x80089419
  //   BTRFS_IOC_SUBVOL_SETFLAGS _IOW(0x94, 26, __u64)       = 1<<30 | 8<<16 | 0x9400 | 0x1a
  //                                                         = 0x4008941a
  //   BTRFS_IOC_SNAP_DESTROY_V2 _IOW(0x94, 63, vol_args_v2) = 0x5000943f  (Linux 5.7+)
  //   BTRFS_SUBVOL_RDONLY = 1 << 1

  /** _IOC(dir, type, nr, size) of include/uapi/asm-generic/ioctl.h (x86_64 and aarch64). */
  private static long ioc(long dir, long type, long nr, long size) {
    return dir << 30 | size << 16 | type << 8 | nr;
  }

  private static final long IOC_WRITE = 1;
  private static final long IOC_READ = 2;
  private static final long BTRFS_IOCTL_MAGIC = 0x94;

  /** sizeof(struct btrfs_ioctl_vol_args): an __s64 fd and name[4088]. */
  public static final int BTRFS_VOL_ARGS_SIZE = 4096;

  /** sizeof(struct btrfs_ioctl_vol_args_v2): fd, transid, flags, 32 bytes of union, name[4040]. */
  public static final int BTRFS_VOL_ARGS_V2_SIZE = 4096;

  private static final int BTRFS_VOL_ARGS_NAME_OFFSET = 8;
  private static final int BTRFS_VOL_ARGS_V2_NAME_OFFSET = 56;

  /** _IOW(0x94, 14, struct btrfs_ioctl_vol_args) = 0x5000940e. */
  public static final long BTRFS_IOC_SUBVOL_CREATE =
      ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 14, BTRFS_VOL_ARGS_SIZE);

  /** _IOW(0x94, 15, struct btrfs_ioctl_vol_args) = 0x5000940f. */
  public static final long BTRFS_IOC_SNAP_DESTROY =
      ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 15, BTRFS_VOL_ARGS_SIZE);

  /** _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2) = 0x50009417. */
  public static final long BTRFS_IOC_SNAP_CREATE_V2 =
      ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 23, BTRFS_VOL_ARGS_V2_SIZE);

  /** _IOR(0x94, 25, __u64) = 0x80089419. */
  public static final long BTRFS_IOC_SUBVOL_GETFLAGS = ioc(IOC_READ, BTRFS_IOCTL_MAGIC, 25, 8);

  /** _IOW(0x94, 26, __u64) = 0x4008941a. */
  public static final long BTRFS_IOC_SUBVOL_SETFLAGS = ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 26, 8);

  /** _IOW(0x94, 63, struct btrfs_ioctl_vol_args_v2) = 0x5000943f (Linux 5.7+). */
  public static final long BTRFS_IOC_SNAP_DESTROY_V2 =
      ioc(IOC_WRITE, BTRFS_IOCTL_MAGIC, 63, BTRFS_VOL_ARGS_V2_SIZE);

  /** The read-only flag of a subvolume (SNAP_CREATE_V2 flags, SUBVOL_GETFLAGS/SETFLAGS). */
  public static final long BTRFS_SUBVOL_RDONLY = 1L << 1;

  /**
   * A vol_args structure: {@code fd} at 0 and {@code name} (NUL-terminated) at {@code nameOffset}.
   * The name must be one path component that fits the structure.
   */
  private static byte[] btrfsArgs(int size, int nameOffset, long fd, long flags, byte[] name) {
    if (name.length == 0 || name.length >= size - nameOffset) {
      throw new IllegalArgumentException(
          "a btrfs subvolume name must have 1 to " + (size - nameOffset - 1) + " bytes");
    }
    if (Names.isDot(name) || Names.isDotDot(name)) {
      throw new IllegalArgumentException("not a subvolume name: " + Names.display(name));
    }
    for (byte b : name) {
      if (b == '/' || b == 0) {
        throw new IllegalArgumentException("not a single file name: " + Names.display(name));
      }
    }
    ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    b.putLong(0, fd);
    if (nameOffset > 16) {
      b.putLong(16, flags);
    }
    b.position(nameOffset);
    b.put(name);
    return b.array();
  }

  private static void btrfsIoctl(String call, int fd, long request, byte[] args, byte[] name)
      throws IOException {
    if (LibC.ioctl(fd, request, args) < 0) {
      throw SysException.of("ioctl(" + call + ")", Native.getLastError(), where(fd, name), null);
    }
  }

  /**
   * ioctl(dirFd, BTRFS_IOC_SUBVOL_CREATE, struct btrfs_ioctl_vol_args *): creates an empty
   * subvolume {@code name} in the directory {@code dirFd} (which must be on btrfs). Any user who
   * may create a directory there may create a subvolume.
   */
  public static void btrfsSubvolumeCreate(int dirFd, byte[] name) throws IOException {
    byte[] args = btrfsArgs(BTRFS_VOL_ARGS_SIZE, BTRFS_VOL_ARGS_NAME_OFFSET, 0, 0, name);
    btrfsIoctl("BTRFS_IOC_SUBVOL_CREATE", dirFd, BTRFS_IOC_SUBVOL_CREATE, args, name);
  }

  /**
   * ioctl(destDirFd, BTRFS_IOC_SNAP_CREATE_V2, struct btrfs_ioctl_vol_args_v2 *): makes {@code
   * name} in {@code destDirFd} a snapshot of the subvolume open as {@code sourceFd} (the
   * subvolume's root directory), read-only when asked ({@link #BTRFS_SUBVOL_RDONLY}). Both must be
   * on the same btrfs filesystem.
   */
  public static void btrfsSnapshotCreate(int sourceFd, int destDirFd, byte[] name, boolean readOnly)
      throws IOException {
    byte[] args =
        btrfsArgs(
            BTRFS_VOL_ARGS_V2_SIZE,
            BTRFS_VOL_ARGS_V2_NAME_OFFSET,
            sourceFd,
            readOnly ? BTRFS_SUBVOL_RDONLY : 0,
            name);
    btrfsIoctl("BTRFS_IOC_SNAP_CREATE_V2", destDirFd, BTRFS_IOC_SNAP_CREATE_V2, args, name);
  }

  /**
   * ioctl(dirFd, BTRFS_IOC_SNAP_DESTROY, struct btrfs_ioctl_vol_args *): deletes the subvolume (or
   * snapshot) {@code name} of the directory {@code dirFd}, contents and all. Without CAP_SYS_ADMIN
   * in the initial user namespace the kernel refuses it with EPERM unless the filesystem is mounted
   * with {@code user_subvol_rm_allowed}; a subvolume holding other subvolumes gives ENOTEMPTY.
   */
  public static void btrfsSnapshotDestroy(int dirFd, byte[] name) throws IOException {
    byte[] args = btrfsArgs(BTRFS_VOL_ARGS_SIZE, BTRFS_VOL_ARGS_NAME_OFFSET, 0, 0, name);
    btrfsIoctl("BTRFS_IOC_SNAP_DESTROY", dirFd, BTRFS_IOC_SNAP_DESTROY, args, name);
  }

  /**
   * ioctl(dirFd, BTRFS_IOC_SNAP_DESTROY_V2, struct btrfs_ioctl_vol_args_v2 *) with the subvolume
   * given by {@code name} (flags 0): the same as {@link #btrfsSnapshotDestroy} on Linux 5.7+; older
   * kernels answer ENOTTY.
   */
  public static void btrfsSnapshotDestroyV2(int dirFd, byte[] name) throws IOException {
    byte[] args = btrfsArgs(BTRFS_VOL_ARGS_V2_SIZE, BTRFS_VOL_ARGS_V2_NAME_OFFSET, 0, 0, name);
    btrfsIoctl("BTRFS_IOC_SNAP_DESTROY_V2", dirFd, BTRFS_IOC_SNAP_DESTROY_V2, args, name);
  }

  /**
   * ioctl(subvolumeFd, BTRFS_IOC_SUBVOL_GETFLAGS, __u64 *): the flags of the subvolume whose root
   * directory is open as {@code subvolumeFd} ({@link #BTRFS_SUBVOL_RDONLY}).
   */
  public static long btrfsSubvolumeGetFlags(int subvolumeFd) throws IOException {
    byte[] arg = new byte[8];
    btrfsIoctl("BTRFS_IOC_SUBVOL_GETFLAGS", subvolumeFd, BTRFS_IOC_SUBVOL_GETFLAGS, arg, null);
    return ByteBuffer.wrap(arg).order(ByteOrder.nativeOrder()).getLong(0);
  }

  /**
   * ioctl(subvolumeFd, BTRFS_IOC_SUBVOL_SETFLAGS, __u64 *): sets the flags of the subvolume whose
   * root directory is open as {@code subvolumeFd}; clearing {@link #BTRFS_SUBVOL_RDONLY} makes a
   * read-only snapshot writable (its owner, or CAP_SYS_ADMIN).
   */
  public static void btrfsSubvolumeSetFlags(int subvolumeFd, long flags) throws IOException {
    byte[] arg = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, flags).array();
    btrfsIoctl("BTRFS_IOC_SUBVOL_SETFLAGS", subvolumeFd, BTRFS_IOC_SUBVOL_SETFLAGS, arg, null);
  }

  // ================================================================== per-thread working directory
  // Appended for the overlay2 driver (drivers/overlay2): overlay's lowerdir option of a deep chain
  // fits a page only as paths relative to the driver's home, and the kernel resolves those against
  // the working directory of the thread that calls mount(2). A JVM cannot chdir without moving
  // every thread, so io.layerd.engine.spi.Mounter runs such a mount on a thread of its own that
  // first
  // unshares its filesystem attributes (CLONE_FS) and then chdirs. Keep other additions out.

  /** unshare(2) flag: stop sharing the root, the working directory and the umask (sched.h). */
  public static final int CLONE_FS = 0x00000200;

  /**
   * int unshare(int flags); for the calling thread only where the flag allows it: after {@code
   * unshare(CLONE_FS)} this thread's working directory, root and umask are its own (no privilege
   * needed, and allowed in a multi-threaded process, unlike CLONE_NEWUSER).
   */
  public static void unshare(int flags) throws IOException {
    if (LibC.unshare(flags) != 0) {
      throw SysException.of(
          "unshare(0x" + Integer.toHexString(flags) + ")",
          Native.getLastError(),
          "the calling thread",
          null);
    }
  }

  /**
   * int chdir(const char *path); changes the working directory of every thread that shares it: call
   * it only on a thread that has done {@code unshare(CLONE_FS)}.
   */
  public static void chdir(String path) throws IOException {
    byte[] p = Names.bytes(path);
    if (LibC.chdir(Names.cstr(p)) != 0) {
      throw fail("chdir", AT_FDCWD, p);
    }
  }

  // ================================================================== creating without exceptions
  // Appended for the layer applier's fast path (unpack/LayerApplier): in a fresh tree nearly every
  // name it makes is new, so it creates first and looks at what is in the way only when the kernel
  // answers EEXIST. These return -errno instead of throwing (building an exception, with the path
  // read back from /proc, costs far more than the call); error() builds the exception the throwing
  // variant would have thrown. Keep other additions out of this section.

  /** openat as {@link #openat} (O_CLOEXEC added): the descriptor, or -errno. */
  public static int tryOpenat(int dirfd, byte[] path, int flags, int mode) {
    int fd = LibC.openat(dirfd, Names.cstr(path), flags | O_CLOEXEC, mode);
    return fd >= 0 ? fd : -Native.getLastError();
  }

  /** mkdirat: 0, or -errno. */
  public static int tryMkdirat(int dirfd, byte[] path, int mode) {
    return LibC.mkdirat(dirfd, Names.cstr(path), mode) == 0 ? 0 : -Native.getLastError();
  }

  /** symlinkat: 0, or -errno. */
  public static int trySymlinkat(byte[] target, int dirfd, byte[] linkpath) {
    return LibC.symlinkat(Names.cstr(target), dirfd, Names.cstr(linkpath)) == 0
        ? 0
        : -Native.getLastError();
  }

  /** linkat: 0, or -errno. */
  public static int tryLinkat(
      int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags) {
    return LibC.linkat(olddirfd, Names.cstr(oldpath), newdirfd, Names.cstr(newpath), flags) == 0
        ? 0
        : -Native.getLastError();
  }

  /**
   * The exception a throwing call would have raised for {@code errno} (positive) on {@code path} in
   * {@code dirfd}, e.g. {@code error("openat", -r, dirfd, name)} after a try call returned r.
   */
  public static IOException error(String call, int errno, int dirfd, byte[] path) {
    return SysException.of(call, errno, where(dirfd, path), null);
  }

  /**
   * The same for a call on two names ({@code symlinkat}: the link, then its target; {@code linkat}:
   * the new name, then the old one), as the throwing variants report them.
   */
  public static IOException error(
      String call, int errno, int dirfd, byte[] path, int dirfd2, byte[] path2) {
    return SysException.of(call, errno, where(dirfd, path), where(dirfd2, path2));
  }
}
