package io.layerd.sys;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;

/**
 * The open directories of a depth-first walk, holding a bounded number of descriptors whatever the
 * depth. A walk may go through several trees in step (a tree and its copy, two trees compared, an
 * upper directory and its lower layers): each level holds one descriptor per tree ("slot"), or none
 * where that tree has no such directory.
 *
 * <p>Only the deepest levels keep their descriptors: at most {@link #MAX_HELD} in all (the deepest
 * level is always held, whatever its width), so that a hostile tree 100,000 directories deep costs
 * no more descriptors than one 10 deep. A level about to lose its descriptors first records each
 * one's device and inode. Going back up into such a level opens it again: from the level just left
 * ({@code openat(child, "..")}), or where that tree has no such child, by its name from the nearest
 * level still open (O_NOFOLLOW, one component at a time); either way the directory opened must be
 * the one recorded, else the walk fails ("the tree changed while it was walked") rather than going
 * on somewhere else. A {@code ..} checked against the recorded identity can only be the directory
 * the walk came from, at one call per level, where reopening by name would cost one call per
 * component of the path. Trees no deeper than the bound are walked with no extra call at all.
 *
 * <p>Level 0 holds the roots, which stay the caller's. Not thread-safe.
 */
public final class DirStack implements AutoCloseable {
  /** The descriptors a stack holds at most (its roots not counted), unless one level needs more. */
  public static final int MAX_HELD = 64;

  /** What a walk of one tree ({@link #walk}) does at each entry. */
  public interface Visitor<T> {
    /**
     * Called for each entry of a directory, open as {@code dirFd} and entered with the context
     * {@code parent}; returns the context to enter the entry with when it is a directory the walk
     * is to go into (then opened O_RDONLY | O_NOFOLLOW), else null.
     */
    T visit(int dirFd, DirEntry entry, T parent) throws IOException;

    /** Whether the walk may stop here (asked before each entry). */
    default boolean done() {
      return false;
    }
  }

  /**
   * Walks the tree open as {@code rootFd} (O_RDONLY; it stays the caller's) depth first, each
   * directory's entries in the order the kernel lists them, holding at most {@link #MAX_HELD}
   * descriptors however deep the tree, never following a symlink.
   */
  public static <T> void walk(int rootFd, T root, Visitor<T> visitor) throws IOException {
    record Level<U>(Iterator<DirEntry> entries, U context) {}
    Deque<Level<T>> levels = new ArrayDeque<>();
    try (DirStack dirs = new DirStack(rootFd)) {
      levels.push(new Level<>(Sys.readDirectory(rootFd).iterator(), root));
      while (!levels.isEmpty() && !visitor.done()) {
        Level<T> level = levels.peek();
        if (!level.entries().hasNext()) {
          levels.pop();
          if (!levels.isEmpty()) {
            dirs.pop();
          }
          continue;
        }
        int dirFd = dirs.fd(0);
        DirEntry e = level.entries().next();
        T child = visitor.visit(dirFd, e, level.context());
        if (child != null) {
          dirs.push(
              e.name(),
              Sys.openat(dirFd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0));
          levels.push(new Level<>(Sys.readDirectory(dirs.fd(0)).iterator(), child));
        }
      }
    }
  }

  private static final int ABSENT = -1;
  private static final int CLOSED = -2;
  private static final byte[] DOTDOT = {'.', '.'};

  private final int width;
  private final int[] flags;
  private final int maxHeld;
  private int[] fds; // [level * width + slot]: a descriptor, ABSENT or CLOSED
  private long[] devs;
  private long[] inos;
  private byte[][] names;
  private int depth;
  private int lowestHeld = 1; // every level from here to depth keeps its descriptors
  private int held;

  /**
   * A stack over these roots (-1 for a tree that is absent), each directory opened again, when it
   * must be, with O_DIRECTORY | O_RDONLY.
   */
  public DirStack(int... roots) {
    this(roots, null, MAX_HELD);
  }

  /**
   * A stack over these roots (-1: absent), reopening the directories of slot {@code i} with {@code
   * flags[i]} (O_PATH or O_RDONLY; O_DIRECTORY and, by name, O_NOFOLLOW are added), holding at most
   * {@code maxHeld} descriptors (at least 1).
   */
  public DirStack(int[] roots, int[] flags, int maxHeld) {
    this.width = roots.length;
    this.flags = new int[width];
    for (int i = 0; i < width; i++) {
      this.flags[i] = (flags == null ? Sys.O_RDONLY : flags[i]) | Sys.O_DIRECTORY;
    }
    this.maxHeld = Math.max(1, maxHeld);
    int capacity = 16;
    fds = new int[capacity * width];
    devs = new long[capacity * width];
    inos = new long[capacity * width];
    names = new byte[capacity][];
    for (int i = 0; i < width; i++) {
      fds[i] = roots[i] < 0 ? ABSENT : roots[i];
    }
  }

  /** How many levels below the roots the walk stands. */
  public int depth() {
    return depth;
  }

  /** How many descriptors the stack holds now (its roots not counted). */
  public int held() {
    return held;
  }

  /** The deepest level's directory of tree {@code slot}, or -1 when that tree has none. */
  public int fd(int slot) {
    int fd = fds[depth * width + slot];
    return fd < 0 ? -1 : fd;
  }

  /**
   * Goes down into the directory {@code name}, open as {@code slotFds} (one per tree, -1 where a
   * tree has none), which the stack owns from now on, even when this throws.
   */
  public void push(byte[] name, int... slotFds) throws IOException {
    if (slotFds.length != width) {
      for (int fd : slotFds) {
        Sys.closeQuietly(fd);
      }
      throw new IllegalArgumentException(width + " descriptors expected, not " + slotFds.length);
    }
    int level = depth + 1;
    if ((level + 1) * width > fds.length) {
      int capacity = (level + 1) * 2;
      fds = Arrays.copyOf(fds, capacity * width);
      devs = Arrays.copyOf(devs, capacity * width);
      inos = Arrays.copyOf(inos, capacity * width);
      names = Arrays.copyOf(names, capacity);
    }
    for (int s = 0; s < width; s++) {
      fds[level * width + s] = slotFds[s] < 0 ? ABSENT : slotFds[s];
      if (slotFds[s] >= 0) {
        held++;
      }
    }
    names[level] = name;
    depth = level;
    if (lowestHeld > depth) {
      lowestHeld = depth;
    }
    while (held > maxHeld && lowestHeld < depth) {
      release(lowestHeld++);
    }
  }

  /** Records the identity of a level's descriptors and closes them. */
  private void release(int level) throws IOException {
    for (int s = 0; s < width; s++) {
      int i = level * width + s;
      if (fds[i] < 0) {
        continue;
      }
      int fd = fds[i];
      try {
        Stat st = Sys.fstat(fd);
        devs[i] = st.dev();
        inos[i] = st.ino();
      } finally {
        fds[i] = CLOSED;
        held--;
        Sys.closeQuietly(fd);
      }
    }
  }

  /**
   * Goes back up to the parent level (closing the deepest one), opening the parent's directories
   * again if the bound had closed them.
   */
  public void pop() throws IOException {
    if (depth == 0) {
      throw new IllegalStateException("the walk is at its roots");
    }
    int child = depth;
    int parent = child - 1;
    try {
      if (parent >= 1 && parent < lowestHeld) {
        for (int s = 0; s < width; s++) {
          if (fds[parent * width + s] == CLOSED) {
            fds[parent * width + s] = reopen(parent, s, fds[child * width + s]);
            held++;
          }
        }
        lowestHeld = parent;
      }
    } finally {
      for (int s = 0; s < width; s++) {
        int fd = fds[child * width + s];
        if (fd >= 0) {
          held--;
          Sys.closeQuietly(fd);
        }
        fds[child * width + s] = ABSENT;
      }
      names[child] = null;
      depth = parent;
      if (lowestHeld > depth) {
        lowestHeld = Math.max(1, depth);
      }
    }
  }

  /** Opens level {@code level}'s directory of tree {@code slot} again, checked against its id. */
  private int reopen(int level, int slot, int childFd) throws IOException {
    if (childFd >= 0) {
      int fd = Sys.tryOpenat(childFd, DOTDOT, flags[slot], 0);
      if (fd >= 0) {
        return check(fd, level, slot);
      }
      if (-fd != Errno.EACCES.number()) {
        throw Sys.error("openat", -fd, childFd, DOTDOT);
      }
      // A directory without search permission for us (a copy's, given its mode already): by name.
    }
    int from = level - 1;
    while (from > 0 && fds[from * width + slot] < 0) {
      from--;
    }
    int cur = fds[from * width + slot];
    if (cur < 0) {
      throw new IllegalStateException("no open ancestor in tree " + slot);
    }
    boolean own = false;
    try {
      for (int l = from + 1; l <= level; l++) {
        int next = check(Sys.openat(cur, names[l], flags[slot] | Sys.O_NOFOLLOW, 0), l, slot);
        if (own) {
          Sys.closeQuietly(cur);
        }
        cur = next;
        own = true;
      }
      own = false;
      return cur;
    } finally {
      if (own) {
        Sys.closeQuietly(cur);
      }
    }
  }

  /** Returns {@code fd} when it is the directory recorded for the level, else closes it, fails. */
  private int check(int fd, int level, int slot) throws IOException {
    try {
      Stat st = Sys.fstat(fd);
      int i = level * width + slot;
      if (st.dev() == devs[i] && st.ino() == inos[i]) {
        return fd;
      }
      throw new IOException(
          "the tree changed while it was walked: "
              + Sys.where(fd, null)
              + " is not the directory that was found at depth "
              + level
              + " (a directory was moved, removed or replaced meanwhile); walk it again once"
              + " nothing else changes it");
    } catch (IOException | RuntimeException e) {
      Sys.closeQuietly(fd);
      throw e;
    }
  }

  /** Closes every descriptor the stack holds (never the roots). */
  @Override
  public void close() {
    for (int level = 1; level <= depth; level++) {
      for (int s = 0; s < width; s++) {
        int fd = fds[level * width + s];
        if (fd >= 0) {
          Sys.closeQuietly(fd);
        }
        fds[level * width + s] = ABSENT;
      }
    }
    held = 0;
    depth = 0;
    lowestHeld = 1;
  }
}
