package io.layerd.sys;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;

/**
 * Whole trees below a directory descriptor, never following a symlink: what the applier, the engine
 * and the drivers share to look at a name and to remove a tree.
 */
public final class Trees {
  private Trees() {}

  /** lstat of a name in a directory, or null when there is none. */
  public static Stat lstatOrNull(int dirFd, byte[] name) throws IOException {
    try {
      return Sys.fstatat(dirFd, name, Sys.AT_SYMLINK_NOFOLLOW);
    } catch (IOException e) {
      if (NativeFailure.errnoOf(e) == Errno.ENOENT) {
        return null;
      }
      throw e;
    }
  }

  /** Removes {@code name} in a directory, and everything below it, never following symlinks. */
  public static void removeAll(int dirFd, String name) throws IOException {
    removeAll(dirFd, Names.bytes(name));
  }

  /**
   * Removes {@code name} in a directory and, for a directory, everything below it, never following
   * a symlink. Iterative, so that a hostile depth cannot overflow the stack. Returns true when it
   * removed a directory or a symlink (cached lookups may then be stale).
   */
  public static boolean removeAll(int dirFd, byte[] name) throws IOException {
    Stat st = lstatOrNull(dirFd, name);
    if (st == null) {
      return false;
    }
    if (!st.isDirectory()) {
      Sys.unlinkat(dirFd, name, 0);
      return st.isSymlink();
    }
    final class Frame {
      final int parent;
      final byte[] name;
      final int fd;
      final Iterator<DirEntry> entries;

      Frame(int parent, byte[] name, int fd) throws IOException {
        this.parent = parent;
        this.name = name;
        this.fd = fd;
        this.entries = Sys.readDirectory(fd).iterator();
      }
    }
    Deque<Frame> stack = new ArrayDeque<>();
    try {
      stack.push(
          new Frame(
              dirFd,
              name,
              Sys.openat(dirFd, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0)));
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        if (f.entries.hasNext()) {
          DirEntry e = f.entries.next();
          boolean isDir = e.type() == Sys.DT_DIR;
          if (e.type() == Sys.DT_UNKNOWN) {
            Stat s = lstatOrNull(f.fd, e.name());
            if (s == null) {
              continue;
            }
            isDir = s.isDirectory();
          }
          if (isDir) {
            stack.push(
                new Frame(
                    f.fd,
                    e.name(),
                    Sys.openat(
                        f.fd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0)));
          } else {
            Sys.unlinkat(f.fd, e.name(), 0);
          }
        } else {
          stack.pop();
          Sys.close(f.fd);
          Sys.unlinkat(f.parent, f.name, Sys.AT_REMOVEDIR);
        }
      }
    } finally {
      while (!stack.isEmpty()) {
        Sys.closeQuietly(stack.pop().fd);
      }
    }
    return true;
  }
}
