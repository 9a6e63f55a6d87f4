package io.layerd.engine;

import io.layerd.sys.DirEntry;
import io.layerd.sys.DirStack;
import io.layerd.sys.Fd;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

/**
 * The disk a directory tree takes, as containerd's snapshotters report a snapshot's usage
 * (continuity's {@code fs.DiskUsage}): the blocks allocated to every inode of the tree, the
 * directory itself included ({@code st_blocks} × 512), and the number of those inodes, each
 * hardlinked inode counted once. Unlike a layer's DiffSize (bytes of file content, what dockerd's
 * graph drivers report), this is what {@code du} says.
 *
 * @param bytes the blocks allocated, in bytes
 * @param inodes the distinct inodes
 */
public record DiskUsage(long bytes, long inodes) {
  /** st_blocks counts 512-byte units whatever the filesystem's block size (stat(2)). */
  static final long BLOCK_UNIT = 512;

  /**
   * Walks the tree at {@code dir} without following symlinks, holding at most {@link
   * DirStack#MAX_HELD} descriptors whatever its depth or width.
   */
  public static DiskUsage of(Path dir) throws IOException {
    Set<Long> seen = new HashSet<>();
    long bytes = 0;
    try (Fd root = Sys.openDirectory(dir.toString());
        DirStack dirs = new DirStack(root.get())) {
      Stat rs = Sys.fstat(root.get());
      seen.add(rs.ino());
      bytes += rs.blocks() * BLOCK_UNIT;
      Deque<Iterator<DirEntry>> pending = new ArrayDeque<>();
      pending.push(Sys.readDirectory(root.get()).iterator());
      while (!pending.isEmpty()) {
        Iterator<DirEntry> entries = pending.peek();
        if (!entries.hasNext()) {
          pending.pop();
          if (!pending.isEmpty()) {
            dirs.pop();
          }
          continue;
        }
        DirEntry e = entries.next();
        int d = dirs.fd(0);
        Stat st = Sys.fstatat(d, e.name(), Sys.AT_SYMLINK_NOFOLLOW);
        if (st.dev() == rs.dev() && seen.add(st.ino())) {
          bytes += st.blocks() * BLOCK_UNIT;
        }
        if (st.isDirectory()) {
          dirs.push(
              e.name(),
              Sys.openat(d, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0));
          pending.push(Sys.readDirectory(dirs.fd(0)).iterator());
        }
      }
    }
    return new DiskUsage(bytes, seen.size());
  }
}
