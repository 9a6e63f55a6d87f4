package io.layerd.engine.internal;

import io.layerd.engine.spi.Change;
import io.layerd.sys.DirEntry;
import io.layerd.sys.DirStack;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The changes of one tree against another found by comparing them (Docker's "naive diff"): a path
 * only in the new tree is added (and so is everything under it), a path only in the old one is
 * deleted (only the top of a deleted subtree is listed), and a path in both is modified when its
 * type, mode, owner, device number, xattrs or — for non-directories — size, mtime or link target
 * differ. A directory that holds a change is listed as modified too, as Docker does, so that its
 * attributes travel with the diff. Iterative: no depth overflows the stack, and the descriptors
 * held are bounded ({@link DirStack}) whatever the depth.
 */
public final class TreeChanges {
  private TreeChanges() {}

  /**
   * The changes, sorted by path, and the bytes of file content added or modified (each inode once).
   */
  public record Result(List<Change> changes, long size) {}

  /**
   * Compares the tree open as {@code newRoot} against {@code oldRoot} (-1: an empty tree). Holds at
   * most {@link DirStack#MAX_HELD} descriptors whatever the trees' depth.
   */
  public static Result compare(int newRoot, int oldRoot) throws IOException {
    List<Change> out = new ArrayList<>();
    long[] size = {0};
    java.util.Set<String> inodes = new java.util.HashSet<>();
    Deque<Frame> stack = new ArrayDeque<>();
    try (DirStack dirs = new DirStack(newRoot, oldRoot)) {
      stack.push(new Frame(dirs, new byte[0], null));
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        int newFd = dirs.fd(NEW);
        int oldFd = dirs.fd(OLD);
        if (f.next < f.entries.size()) {
          DirEntry e = f.entries.get(f.next++);
          byte[] p = child(f.path, e.name());
          Stat ns = Sys.fstatat(newFd, e.name(), Sys.AT_SYMLINK_NOFOLLOW);
          Stat os = oldFd < 0 ? null : statOrNull(oldFd, e.name());
          if (os == null) {
            out.add(new Change(p, Change.Kind.ADDED));
            f.changedInside = true;
            size[0] += contentSize(ns, inodes);
            if (ns.isDirectory()) {
              stack.push(enter(dirs, f, e.name(), false, p));
            }
            continue;
          }
          boolean changed = differs(newFd, oldFd, e.name(), ns, os);
          if (ns.isDirectory()) {
            if (!os.isDirectory()) {
              out.add(new Change(p, Change.Kind.MODIFIED)); // a file became a directory
              f.changedInside = true;
            }
            Frame c = enter(dirs, f, e.name(), os.isDirectory(), p);
            c.selfChanged = changed;
            stack.push(c);
          } else if (changed) {
            out.add(new Change(p, Change.Kind.MODIFIED));
            f.changedInside = true;
            size[0] += contentSize(ns, inodes);
          }
        } else {
          stack.pop();
          if (oldFd >= 0) {
            // Deletions: names in the old directory that the new one lacks.
            java.util.Set<String> present = new java.util.HashSet<>();
            for (DirEntry e : f.entries) {
              present.add(key(e.name()));
            }
            for (DirEntry o : Sys.readDirectory(oldFd)) {
              if (!present.contains(key(o.name()))) {
                out.add(new Change(child(f.path, o.name()), Change.Kind.DELETED));
                f.changedInside = true;
              }
            }
          }
          if (f.parent != null) {
            if (oldFd >= 0 && (f.selfChanged || f.changedInside)) {
              // (an added directory was listed when it was found)
              out.add(new Change(f.path, Change.Kind.MODIFIED));
            }
            if (oldFd < 0 || f.selfChanged || f.changedInside) {
              f.parent.changedInside = true;
            }
            dirs.pop();
          }
        }
      }
    }
    out.sort((a, b) -> Arrays.compareUnsigned(a.path(), b.path()));
    return new Result(out, size[0]);
  }

  private static final int NEW = 0;
  private static final int OLD = 1;

  /** One directory being compared (its descriptors are the deepest level of the DirStack). */
  private static final class Frame {
    final byte[] path;
    final List<DirEntry> entries;
    final Frame parent;
    int next;
    boolean changedInside;
    boolean selfChanged;

    Frame(DirStack dirs, byte[] path, Frame parent) throws IOException {
      this.path = path;
      this.parent = parent;
      this.entries = Sys.readDirectory(dirs.fd(NEW));
    }
  }

  /**
   * Goes down into subdirectory {@code name} of {@code f} (in the old tree too when {@code inOld}).
   */
  private static Frame enter(DirStack dirs, Frame f, byte[] name, boolean inOld, byte[] path)
      throws IOException {
    int flags = Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW;
    int oldFd = inOld ? Sys.openat(dirs.fd(OLD), name, flags, 0) : -1;
    int newFd;
    try {
      newFd = Sys.openat(dirs.fd(NEW), name, flags, 0);
    } catch (IOException | RuntimeException e) {
      Sys.closeQuietly(oldFd);
      throw e;
    }
    dirs.push(name, newFd, oldFd);
    return new Frame(dirs, path, f);
  }

  private static String key(byte[] name) {
    return new String(name, java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  private static byte[] child(byte[] dir, byte[] name) {
    byte[] out = Arrays.copyOf(dir, dir.length + 1 + name.length);
    out[dir.length] = '/';
    System.arraycopy(name, 0, out, dir.length + 1, name.length);
    return out;
  }

  /** A regular file's size; a hardlinked inode counts once (as Docker's ChangesSize). */
  private static long contentSize(Stat st, java.util.Set<String> inodes) {
    if (!st.isRegular() || (st.nlink() > 1 && !inodes.add(st.inodeKey()))) {
      return 0;
    }
    return st.size();
  }

  private static Stat statOrNull(int dirFd, byte[] name) throws IOException {
    return Sys.fstatatOrNull(dirFd, name, Sys.AT_SYMLINK_NOFOLLOW);
  }

  static boolean differs(int newDir, int oldDir, byte[] name, Stat n, Stat o) throws IOException {
    if (n.dev() == o.dev() && n.ino() == o.ino()) {
      return false; // the very same inode
    }
    if (n.type() != o.type()
        || n.permissions() != o.permissions()
        || n.uid() != o.uid()
        || n.gid() != o.gid()
        || n.rdevMajor() != o.rdevMajor()
        || n.rdevMinor() != o.rdevMinor()) {
      return true;
    }
    if (!n.isDirectory()) {
      if (n.size() != o.size() || n.mtimeSec() != o.mtimeSec() || n.mtimeNsec() != o.mtimeNsec()) {
        return true;
      }
      if (n.isSymlink()
          && !Arrays.equals(Sys.readlinkat(newDir, name), Sys.readlinkat(oldDir, name))) {
        return true;
      }
    }
    return !xattrs(newDir, name).equals(xattrs(oldDir, name));
  }

  private static Map<String, String> xattrs(int dir, byte[] name) throws IOException {
    Map<String, String> m = new HashMap<>();
    for (String x : Sys.llistxattrAt(dir, name)) {
      byte[] v = Sys.lgetxattrAt(dir, name, x);
      m.put(x, v == null ? "" : java.util.HexFormat.of().formatHex(v));
    }
    return m;
  }

  /** The display form of a change's path, absolute as Docker prints it. */
  public static String display(Change c) {
    return Names.display(c.path());
  }
}
