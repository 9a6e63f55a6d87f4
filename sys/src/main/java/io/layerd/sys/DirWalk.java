package io.layerd.sys;

import java.io.IOException;
import java.util.Arrays;

/**
 * The directories of a walk down from a root, holding one descriptor (the current directory)
 * whatever the depth: a tree 60,000 directories deep (legal through symlinks, every path under
 * PATH_MAX) must not cost 60,000 descriptors. Going back up ({@code ..}) opens the current
 * directory's {@code ..} and checks that it is the directory the walk came from (device and inode,
 * kept for every level: memory, not descriptors), so a walk never climbs anywhere else; above the
 * root it stays at the root, as RESOLVE_IN_ROOT does.
 *
 * <p>Not thread-safe. The root's descriptor stays the caller's.
 */
public final class DirWalk implements AutoCloseable {
  private final int rootFd;
  private int current = -1; // -1: at the root
  private long[] devs = new long[16];
  private long[] inos = new long[16];
  private int depth;

  public DirWalk(int rootFd) {
    this.rootFd = rootFd;
  }

  /** The current directory's descriptor (the root's at depth 0); owned by the walk. */
  public int current() {
    return current < 0 ? rootFd : current;
  }

  /** How many directories below the root the walk stands. */
  public int depth() {
    return depth;
  }

  /**
   * Enters {@code name}, a directory in the current one, opened O_PATH | O_DIRECTORY | O_NOFOLLOW.
   */
  public void enter(byte[] name) throws IOException {
    int fd = Sys.openat(current(), name, Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
    try {
      Stat st = Sys.fstat(fd);
      if (depth == devs.length) {
        devs = Arrays.copyOf(devs, depth * 2);
        inos = Arrays.copyOf(inos, depth * 2);
      }
      devs[depth] = st.dev();
      inos[depth] = st.ino();
    } catch (IOException | RuntimeException e) {
      Sys.closeQuietly(fd);
      throw e;
    }
    if (current >= 0) {
      Sys.closeQuietly(current);
    }
    current = fd;
    depth++;
  }

  /** Goes back to the parent directory; at the root, stays there. */
  public void up() throws IOException {
    if (depth == 0) {
      return;
    }
    if (depth == 1) {
      Sys.closeQuietly(current);
      current = -1;
      depth = 0;
      return;
    }
    int parent = Sys.openat(current, new byte[] {'.', '.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0);
    try {
      Stat st = Sys.fstat(parent);
      if (st.dev() != devs[depth - 2] || st.ino() != inos[depth - 2]) {
        throw new IOException(
            "a directory was moved while it was walked (its '..' is not the directory the walk"
                + " came from, "
                + Sys.where(current, null)
                + ")");
      }
    } catch (IOException | RuntimeException e) {
      Sys.closeQuietly(parent);
      throw e;
    }
    Sys.closeQuietly(current);
    current = parent;
    depth--;
  }

  /** Back to the root (an absolute symlink target). */
  public void toRoot() {
    if (current >= 0) {
      Sys.closeQuietly(current);
    }
    current = -1;
    depth = 0;
  }

  /**
   * Hands the current directory's descriptor to the caller (a new O_PATH descriptor of the root at
   * depth 0), who must close it; the walk is then back at the root.
   */
  public int take() throws IOException {
    if (current < 0) {
      return Sys.openat(rootFd, new byte[] {'.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0);
    }
    int fd = current;
    current = -1;
    depth = 0;
    return fd;
  }

  @Override
  public void close() {
    toRoot();
  }
}
