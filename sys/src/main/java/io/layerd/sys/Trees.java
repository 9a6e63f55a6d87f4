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
    return Sys.fstatatOrNull(dirFd, name, Sys.AT_SYMLINK_NOFOLLOW);
  }

  /** Removes {@code name} in a directory, and everything below it, never following symlinks. */
  public static void removeAll(int dirFd, String name) throws IOException {
    removeAll(dirFd, Names.bytes(name));
  }

  /**
   * Removes {@code name} in a directory and, for a directory, everything below it, never following
   * a symlink. Iterative, so that a hostile depth cannot overflow the stack, and holding one
   * descriptor whatever the depth. Returns true when it removed a directory or a symlink (cached
   * lookups may then be stale).
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
    // Each level keeps its name and its unread entries (memory); one descriptor, the deepest
    // level's, is open whatever the depth, and going up opens '..' and checks it is the parent.
    final class Frame {
      final byte[] name;
      final Iterator<DirEntry> entries;
      final long dev;
      final long ino;

      Frame(byte[] name, int fd) throws IOException {
        this.name = name;
        Stat s = Sys.fstat(fd);
        this.dev = s.dev();
        this.ino = s.ino();
        this.entries = Sys.readDirectory(fd).iterator();
      }
    }
    Deque<Frame> stack = new ArrayDeque<>();
    int fd = Sys.openat(dirFd, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
    try {
      stack.push(new Frame(name, fd));
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        if (f.entries.hasNext()) {
          DirEntry e = f.entries.next();
          boolean isDir = e.type() == Sys.DT_DIR;
          if (e.type() == Sys.DT_UNKNOWN) {
            Stat s = lstatOrNull(fd, e.name());
            if (s == null) {
              continue;
            }
            isDir = s.isDirectory();
          }
          if (isDir) {
            int child =
                Sys.openat(fd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
            Frame c;
            try {
              c = new Frame(e.name(), child);
            } catch (IOException | RuntimeException ex) {
              Sys.closeQuietly(child);
              throw ex;
            }
            Sys.close(fd);
            fd = child;
            stack.push(c);
          } else {
            Sys.unlinkat(fd, e.name(), 0);
          }
        } else {
          stack.pop();
          Frame parent = stack.peek();
          int up = -1;
          if (parent != null) {
            up = Sys.openat(fd, new byte[] {'.', '.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0);
            Stat s = Sys.fstat(up);
            if (s.dev() != parent.dev || s.ino() != parent.ino) {
              Sys.closeQuietly(up);
              throw new IOException(
                  "a directory was moved while it was removed: "
                      + Sys.where(fd, null)
                      + " is no longer in the directory it was found in");
            }
          }
          Sys.close(fd);
          fd = up;
          Sys.unlinkat(parent == null ? dirFd : fd, f.name, Sys.AT_REMOVEDIR);
        }
      }
    } finally {
      if (fd >= 0) {
        Sys.closeQuietly(fd);
      }
    }
    return true;
  }
}
