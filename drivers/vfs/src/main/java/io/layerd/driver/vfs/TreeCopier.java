package io.layerd.driver.vfs;

import io.layerd.sys.DirEntry;
import io.layerd.sys.DirStack;
import io.layerd.sys.Errno;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Copies a directory tree into an empty directory, keeping everything a layer holds: owners,
 * permission bits with setuid/setgid/sticky, extended attributes of every namespace, nanosecond
 * mtimes and atimes, symlinks, hardlinks within the tree, character and block devices, fifos and
 * sockets.
 *
 * <p>Only {@link Sys} is used, always relative to open directories: entries are statted and opened
 * without following symlinks ({@code O_NOFOLLOW}, {@code AT_SYMLINK_NOFOLLOW}), a hardlink's first
 * name is found again in the destination with {@link Sys#openInRoot}, so nothing outside either
 * tree is read or written, whatever links the tree holds.
 *
 * <p>Order, per inode: content, owner, mode (after the owner: chown clears setuid and setgid),
 * xattrs (after the owner: chown clears {@code security.capability}), times last. A directory's
 * attributes are set once everything inside it has been made (post-order), so that making its
 * entries neither changes its times nor is refused by its final mode.
 *
 * <p>File content is copied by a small pool of threads while one thread walks the tree, makes the
 * directories and the other entries, and creates each regular file (so hardlinks can be made to it
 * at once); the pool then fills the file and sets its attributes. Content goes by reflink ({@code
 * ioctl FICLONE}, sharing extents) when asked and the filesystem offers it, else by {@code
 * copy_file_range}, else by read and write; each falls back to the next on the first "not
 * supported" and stays there for the rest of the copy.
 *
 * <p>Extended attributes the destination refuses (EPERM, EOPNOTSUPP, EACCES, E2BIG: e.g. {@code
 * trusted.*} inside a user namespace) are not lost silently: they are counted and listed in the
 * {@link Result}. Any other failure stops the copy and is thrown once the work in flight is done;
 * the caller removes the partial destination.
 *
 * <p>Thread-safe: one copier may run several copies at once (they share its threads).
 */
public final class TreeCopier implements Closeable {
  /** How file content was copied. */
  public enum DataMethod {
    /** ioctl(FICLONE): the copy shares the source's extents. */
    FICLONE,
    /** copy_file_range(2): the kernel copies, without passing the bytes through user space. */
    COPY_FILE_RANGE,
    /** read(2) and write(2) through a buffer. */
    READ_WRITE
  }

  /**
   * What a copy made.
   *
   * @param directories directories made (the root not counted)
   * @param files regular files made (hardlinks not counted)
   * @param symlinks symlinks made
   * @param hardlinks extra names made for inodes already copied
   * @param specials devices, fifos and sockets made
   * @param bytes bytes of file content copied (reflinked files count their size)
   * @param reflinkedFiles files whose content was shared by FICLONE
   * @param method the way content went at the end of the copy (after any fallback)
   * @param refusedXattrs extended attributes the source would not give or the destination refused
   * @param warnings what was refused, one line each, at most {@value #MAX_WARNINGS}
   */
  public record Result(
      long directories,
      long files,
      long symlinks,
      long hardlinks,
      long specials,
      long bytes,
      long reflinkedFiles,
      DataMethod method,
      long refusedXattrs,
      List<String> warnings) {
    public Result {
      warnings = List.copyOf(warnings);
    }
  }

  /** How many refusals a {@link Result} lists (all are counted). */
  public static final int MAX_WARNINGS = 100;

  /** Errnos that mean "this way of copying is not offered here": fall back to the next way. */
  private static final Set<Errno> UNSUPPORTED =
      Set.of(Errno.EOPNOTSUPP, Errno.ENOTTY, Errno.EXDEV, Errno.EINVAL, Errno.ENOSYS);

  /** Errnos that mean the destination (or source) refuses one extended attribute. */
  private static final Set<Errno> XATTR_REFUSED =
      Set.of(Errno.EPERM, Errno.EOPNOTSUPP, Errno.EACCES, Errno.E2BIG);

  private static final int SRC = 0;
  private static final int DST = 1;

  private static final int BUFFER = 1 << 18;
  private static final long CFR_CHUNK = 1L << 30;
  private static final ThreadLocal<ByteBuffer> BUFFERS =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(BUFFER));

  private final ExecutorService pool;
  private final int inFlightLimit;
  private final boolean reflink;

  /**
   * A copier with {@code threads} threads for file content that tries reflinks first when {@code
   * reflink} is true.
   */
  public TreeCopier(int threads, boolean reflink) {
    if (threads < 1) {
      throw new IllegalArgumentException("a copier needs at least one thread, not " + threads);
    }
    this.pool = Executors.newFixedThreadPool(threads, new Daemons());
    this.inFlightLimit = threads * 4;
    this.reflink = reflink;
  }

  /** The default number of copying threads: min(4, available processors). */
  public static int defaultThreads() {
    return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
  }

  /**
   * Copies the tree open as {@code srcRoot} into the empty directory open as {@code dstRoot}, the
   * root's own attributes included. Both descriptors must be directories opened for reading.
   */
  public Result copy(int srcRoot, int dstRoot) throws IOException {
    return new Run(srcRoot, dstRoot).run();
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }

  /**
   * Whether the filesystem of the directory {@code dirFd} shares extents between files ({@code
   * ioctl FICLONE}), tried for real on two temporary files that are removed again. Returns null
   * when it does, else why not (the errno's text).
   */
  public static String reflinkProblem(int dirFd) throws IOException {
    byte[] rand = new byte[6];
    new SecureRandom().nextBytes(rand);
    String base = ".layerd-reflink-probe-" + HexFormat.of().formatHex(rand);
    byte[] a = Names.bytes(base + "-a");
    byte[] b = Names.bytes(base + "-b");
    int flags = Sys.O_RDWR | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW;
    try {
      int fa = Sys.openat(dirFd, a, flags, 0600);
      try {
        ByteBuffer buf = ByteBuffer.allocateDirect(4096);
        while (buf.hasRemaining()) {
          buf.put((byte) 'x');
        }
        buf.flip();
        Sys.writeFully(fa, buf);
        int fb = Sys.openat(dirFd, b, flags, 0600);
        try {
          Sys.ficlone(fb, fa);
          return null;
        } catch (IOException e) {
          Errno errno = NativeFailure.errnoOf(e);
          if (is(UNSUPPORTED, e) || errno == Errno.EPERM) {
            return "ioctl FICLONE: " + errno.description();
          }
          throw e;
        } finally {
          Sys.closeQuietly(fb);
        }
      } finally {
        Sys.closeQuietly(fa);
      }
    } finally {
      unlinkQuietly(dirFd, a);
      unlinkQuietly(dirFd, b);
    }
  }

  private static void unlinkQuietly(int dirFd, byte[] name) {
    try {
      Sys.unlinkat(dirFd, name, 0);
    } catch (IOException e) {
      // not made, or already gone
    }
  }

  /**
   * One directory being copied: the source's attributes and entries. Its descriptors (source and
   * copy) are the deepest level of the copy's {@link DirStack}.
   */
  private static final class Frame {
    final byte[] path;
    final Stat stat;
    final List<DirEntry> entries;
    int next;

    Frame(int src, byte[] path, Stat stat) throws IOException {
      this.path = path;
      this.stat = stat;
      this.entries = Sys.readDirectory(src);
    }
  }

  /** The state of one copy. */
  private final class Run {
    private final int srcRoot;
    private final int dstRoot;
    private final Semaphore inFlight = new Semaphore(inFlightLimit);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Map<String, byte[]> firstNames = new HashMap<>();
    private final long euid = Sys.geteuid();
    private final long egid = Sys.getegid();
    private volatile boolean tryReflink = reflink;
    private volatile boolean tryCopyFileRange = true;
    private long directories;
    private long symlinks;
    private long hardlinks;
    private long specials;
    private final AtomicLong files = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong reflinked = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final List<String> warnings = new ArrayList<>();

    Run(int srcRoot, int dstRoot) {
      this.srcRoot = srcRoot;
      this.dstRoot = dstRoot;
    }

    Result run() throws IOException {
      Deque<Frame> stack = new ArrayDeque<>();
      try (DirStack dirs = new DirStack(srcRoot, dstRoot)) {
        stack.push(new Frame(srcRoot, new byte[0], Sys.fstat(srcRoot)));
        while (!stack.isEmpty() && failure.get() == null) {
          Frame f = stack.peek();
          int src = dirs.fd(SRC);
          int dst = dirs.fd(DST);
          if (f.next < f.entries.size()) {
            Frame child = entry(dirs, f, src, dst, f.entries.get(f.next++).name());
            if (child != null) {
              stack.push(child);
            }
          } else {
            stack.pop();
            finishDirectory(f, src, dst);
            if (!stack.isEmpty()) {
              dirs.pop();
            }
          }
        }
      } catch (IOException | RuntimeException | Error e) {
        failure.compareAndSet(null, e);
      } finally {
        // Wait for the content copies in flight, whatever happened.
        inFlight.acquireUninterruptibly(inFlightLimit);
        inFlight.release(inFlightLimit);
      }
      Throwable t = failure.get();
      if (t != null) {
        if (t instanceof IOException) {
          throw (IOException) t;
        }
        if (t instanceof RuntimeException) {
          throw (RuntimeException) t;
        }
        if (t instanceof Error) {
          throw (Error) t;
        }
        throw new IOException(t);
      }
      DataMethod method =
          tryReflink
              ? DataMethod.FICLONE
              : tryCopyFileRange ? DataMethod.COPY_FILE_RANGE : DataMethod.READ_WRITE;
      synchronized (warnings) {
        return new Result(
            directories,
            files.get(),
            symlinks,
            hardlinks,
            specials,
            bytes.get(),
            reflinked.get(),
            method,
            refused.get(),
            warnings);
      }
    }

    /**
     * Copies one entry of {@code f} (open as {@code srcDir} and {@code dstDir}); returns the frame
     * of a directory entered, else null.
     */
    private Frame entry(DirStack dirs, Frame f, int srcDir, int dstDir, byte[] name)
        throws IOException {
      Stat st = Sys.fstatat(srcDir, name, Sys.AT_SYMLINK_NOFOLLOW);
      byte[] path = child(f.path, name);
      if (st.isDirectory()) {
        Sys.mkdirat(dstDir, name, 0700);
        int src = Sys.openat(srcDir, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        int dst;
        try {
          dst = Sys.openat(dstDir, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        } catch (IOException e) {
          Sys.closeQuietly(src);
          throw e;
        }
        dirs.push(name, src, dst);
        directories++;
        return new Frame(src, path, st);
      }
      if (st.nlink() > 1) {
        byte[] first = firstNames.get(st.inodeKey());
        if (first != null) {
          link(first, dstDir, name);
          hardlinks++;
          return null;
        }
        firstNames.put(st.inodeKey(), path);
      }
      switch (st.type()) {
        case Sys.S_IFREG:
          file(srcDir, dstDir, name, path, st);
          break;
        case Sys.S_IFLNK:
          Sys.symlinkat(Sys.readlinkat(srcDir, name), dstDir, name);
          ownerAt(dstDir, name, st);
          xattrsAt(srcDir, dstDir, name, path);
          timesAt(dstDir, name, st);
          symlinks++;
          break;
        case Sys.S_IFCHR:
        case Sys.S_IFBLK:
        case Sys.S_IFIFO:
        case Sys.S_IFSOCK:
          Sys.mknodat(dstDir, name, st.type() | 0600, st.rdevMajor(), st.rdevMinor());
          ownerAt(dstDir, name, st);
          // Not a symlink (we just made it), so fchmodat follows nothing.
          Sys.fchmodat(dstDir, name, st.permissions(), 0);
          xattrsAt(srcDir, dstDir, name, path);
          timesAt(dstDir, name, st);
          specials++;
          break;
        default:
          throw new IOException(
              String.format(
                  "%s: unknown file type 0%o", Sys.where(srcDir, name), st.type() >>> 12));
      }
      return null;
    }

    /** Creates the file here, then hands its content and attributes to the pool. */
    private void file(int srcDir, int dstDir, byte[] name, byte[] path, Stat st)
        throws IOException {
      int src = Sys.openat(srcDir, name, Sys.O_RDONLY | Sys.O_NOFOLLOW, 0);
      int dst;
      try {
        dst =
            Sys.openat(
                dstDir, name, Sys.O_WRONLY | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW, 0600);
      } catch (IOException e) {
        Sys.closeQuietly(src);
        throw e;
      }
      inFlight.acquireUninterruptibly();
      try {
        pool.execute(() -> fileTask(src, dst, path, st));
      } catch (RejectedExecutionException e) {
        inFlight.release();
        Sys.closeQuietly(src);
        Sys.closeQuietly(dst);
        throw new InterruptedIOException("the copier is closed");
      }
    }

    private void fileTask(int src, int dst, byte[] path, Stat st) {
      try {
        if (failure.get() == null) {
          content(src, dst);
          if (st.uid() != euid || st.gid() != egid) {
            Sys.fchown(dst, st.uid(), st.gid());
          }
          Sys.fchmod(dst, st.permissions());
          for (String x : Sys.flistxattr(src)) {
            byte[] v;
            try {
              v = Sys.fgetxattr(src, x);
            } catch (IOException e) {
              refuse(e, path, x);
              continue;
            }
            if (v == null) {
              continue; // removed meanwhile
            }
            try {
              Sys.fsetxattr(dst, x, v, 0);
            } catch (IOException e) {
              refuse(e, path, x);
            }
          }
          Sys.futimens(dst, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
          files.incrementAndGet();
        }
      } catch (IOException | RuntimeException | Error e) {
        failure.compareAndSet(null, e);
      } finally {
        Sys.closeQuietly(src);
        Sys.closeQuietly(dst);
        inFlight.release();
      }
    }

    private void content(int src, int dst) throws IOException {
      if (tryReflink) {
        try {
          Sys.ficlone(dst, src);
          long size = Sys.fstat(dst).size();
          bytes.addAndGet(size);
          reflinked.incrementAndGet();
          return;
        } catch (IOException e) {
          if (!is(UNSUPPORTED, e)) {
            throw e;
          }
          tryReflink = false;
        }
      }
      if (tryCopyFileRange) {
        try {
          long n;
          while ((n = Sys.copyFileRange(src, dst, CFR_CHUNK)) > 0) {
            bytes.addAndGet(n);
          }
          return;
        } catch (IOException e) {
          if (!is(UNSUPPORTED, e)) {
            throw e;
          }
          // Both offsets stand after what was copied: read and write go on from there.
          tryCopyFileRange = false;
        }
      }
      ByteBuffer buf = BUFFERS.get();
      while (true) {
        buf.clear();
        int n = Sys.read(src, buf);
        if (n <= 0) {
          return;
        }
        buf.flip();
        Sys.writeFully(dst, buf);
        bytes.addAndGet(n);
      }
    }

    /** Makes {@code name} in {@code dstDir} another name of the copy made at {@code first}. */
    private void link(byte[] first, int dstDir, byte[] name) throws IOException {
      List<byte[]> comps = Names.split(first);
      byte[] parent = Names.join(comps.subList(0, comps.size() - 1));
      int p =
          parent.length == 0
              ? Sys.openat(dstRoot, new byte[] {'.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0)
              : Sys.openInRoot(dstRoot, parent, Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
      try {
        Sys.linkat(p, comps.get(comps.size() - 1), dstDir, name, 0);
      } finally {
        Sys.closeQuietly(p);
      }
    }

    private void ownerAt(int dir, byte[] name, Stat st) throws IOException {
      if (st.uid() != euid || st.gid() != egid) {
        Sys.fchownat(dir, name, st.uid(), st.gid(), Sys.AT_SYMLINK_NOFOLLOW);
      }
    }

    /** Gives a name the access and modification times of {@code st}, not following it. */
    private static void timesAt(int dir, byte[] name, Stat st) throws IOException {
      Sys.utimensat(
          dir,
          name,
          st.atimeSec(),
          st.atimeNsec(),
          st.mtimeSec(),
          st.mtimeNsec(),
          Sys.AT_SYMLINK_NOFOLLOW);
    }

    /** Copies the xattrs of a symlink, device, fifo or socket by name. */
    private void xattrsAt(int srcDir, int dstDir, byte[] name, byte[] path) throws IOException {
      for (String x : Sys.llistxattrAt(srcDir, name)) {
        byte[] v;
        try {
          v = Sys.lgetxattrAt(srcDir, name, x);
        } catch (IOException e) {
          refuse(e, path, x);
          continue;
        }
        if (v == null) {
          continue;
        }
        try {
          Sys.lsetxattrAt(dstDir, name, x, v, 0);
        } catch (IOException e) {
          refuse(e, path, x);
        }
      }
    }

    /** Sets a directory's own attributes once everything inside it is made. */
    private void finishDirectory(Frame f, int src, int dst) throws IOException {
      Stat st = f.stat;
      if (st.uid() != euid || st.gid() != egid) {
        Sys.fchown(dst, st.uid(), st.gid());
      }
      Sys.fchmod(dst, st.permissions());
      for (String x : Sys.flistxattr(src)) {
        byte[] v;
        try {
          v = Sys.fgetxattr(src, x);
        } catch (IOException e) {
          refuse(e, f.path, x);
          continue;
        }
        if (v == null) {
          continue;
        }
        try {
          Sys.fsetxattr(dst, x, v, 0);
        } catch (IOException e) {
          refuse(e, f.path, x);
        }
      }
      Sys.futimens(dst, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
    }

    /** Counts and lists a refused xattr, or rethrows a failure that is not a refusal. */
    private void refuse(IOException e, byte[] path, String xattr) throws IOException {
      Errno errno = NativeFailure.errnoOf(e);
      if (!is(XATTR_REFUSED, e)) {
        throw e;
      }
      refused.incrementAndGet();
      synchronized (warnings) {
        if (warnings.size() < MAX_WARNINGS) {
          warnings.add(
              "/"
                  + Names.display(path)
                  + ": extended attribute "
                  + xattr
                  + " not copied ("
                  + errno.name()
                  + ": "
                  + errno.description()
                  + ")");
        }
      }
    }
  }

  /** True when {@code e} carries one of these errnos. */
  private static boolean is(Set<Errno> errnos, IOException e) {
    Errno errno = NativeFailure.errnoOf(e);
    return errno != null && errnos.contains(errno);
  }

  private static byte[] child(byte[] dir, byte[] name) {
    if (dir.length == 0) {
      return name.clone();
    }
    byte[] out = Arrays.copyOf(dir, dir.length + 1 + name.length);
    out[dir.length] = '/';
    System.arraycopy(name, 0, out, dir.length + 1, name.length);
    return out;
  }

  /** Daemon threads, so that a copier never keeps a JVM alive. */
  private static final class Daemons implements ThreadFactory {
    private static final AtomicInteger COUNT = new AtomicInteger();

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "layerd-vfs-copy-" + COUNT.incrementAndGet());
      t.setDaemon(true);
      return t;
    }
  }
}
