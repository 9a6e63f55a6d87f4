package io.layerd.driver.btrfs;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;

/**
 * Subvolume operations on the entries of one open directory, through the btrfs ioctls of {@link
 * Sys} (no btrfs-progs).
 */
final class Subvolumes {
  private Subvolumes() {}

  /** How a subvolume went away. */
  enum Removal {
    /** BTRFS_IOC_SNAP_DESTROY: root, or user_subvol_rm_allowed. */
    IOCTL,
    /** Emptied, then rmdir(2) of the empty subvolume (Linux 4.18+, its owner). */
    RMDIR
  }

  /** An empty subvolume {@code name} in {@code dirFd}. */
  static void create(int dirFd, String name) throws IOException {
    Sys.btrfsSubvolumeCreate(dirFd, Names.bytes(name));
  }

  /** {@code name} in {@code dirFd} becomes a writable snapshot of the subvolume {@code source}. */
  static void snapshot(int sourceDirFd, String source, int dirFd, String name) throws IOException {
    try (Fd src =
        new Fd(
            Sys.openat(
                sourceDirFd,
                Names.bytes(source),
                Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW,
                0))) {
      Sys.btrfsSnapshotCreate(src.get(), dirFd, Names.bytes(name), false);
    }
  }

  /**
   * Removes the subvolume {@code name} of {@code dirFd}: clears its read-only flag if set, then
   * BTRFS_IOC_SNAP_DESTROY; when the kernel refuses that (EPERM: unprivileged without {@code
   * user_subvol_rm_allowed}; EINVAL: not a subvolume; ENOTEMPTY: it holds subvolumes), empties it
   * without following symlinks and removes it with rmdir(2), which deletes an empty subvolume on
   * Linux 4.18+. A missing name is fine.
   */
  static Removal remove(int dirFd, String name) throws IOException {
    byte[] n = Names.bytes(name);
    try (Fd sub =
        new Fd(Sys.openat(dirFd, n, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
      clearReadOnly(sub.get());
    } catch (java.nio.file.NoSuchFileException e) {
      return Removal.IOCTL; // already gone
    }
    try {
      Sys.btrfsSnapshotDestroy(dirFd, n);
      return Removal.IOCTL;
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (errno != Errno.EPERM
          && errno != Errno.EACCES
          && errno != Errno.EINVAL
          && errno != Errno.ENOTEMPTY) {
        throw e;
      }
      try {
        Trees.removeAll(dirFd, n);
      } catch (IOException rmdir) {
        rmdir.addSuppressed(e);
        throw rmdir;
      }
      return Removal.RMDIR;
    }
  }

  /** Makes a read-only subvolume writable (a no-op on a writable one or a plain directory). */
  static void clearReadOnly(int subvolumeFd) throws IOException {
    long flags;
    try {
      flags = Sys.btrfsSubvolumeGetFlags(subvolumeFd);
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (errno == Errno.EINVAL || errno == Errno.ENOTTY) {
        return; // not a subvolume's root
      }
      throw e;
    }
    if ((flags & Sys.BTRFS_SUBVOL_RDONLY) != 0) {
      Sys.btrfsSubvolumeSetFlags(subvolumeFd, flags & ~Sys.BTRFS_SUBVOL_RDONLY);
    }
  }
}
