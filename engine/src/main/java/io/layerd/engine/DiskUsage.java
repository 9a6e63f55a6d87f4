package io.layerd.engine;

import io.layerd.sys.DirStack;
import io.layerd.sys.Fd;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
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
    long[] bytes = {0};
    try (Fd root = Sys.openDirectory(dir.toString())) {
      Stat rs = Sys.fstat(root.get());
      seen.add(rs.ino());
      bytes[0] += rs.blocks() * BLOCK_UNIT;
      DirStack.walk(
          root.get(),
          Boolean.TRUE,
          (d, e, inside) -> {
            Stat st = Sys.fstatat(d, e.name(), Sys.AT_SYMLINK_NOFOLLOW);
            if (st.dev() == rs.dev() && seen.add(st.ino())) {
              bytes[0] += st.blocks() * BLOCK_UNIT;
            }
            return st.isDirectory() ? inside : null;
          });
    }
    return new DiskUsage(bytes[0], seen.size());
  }
}
