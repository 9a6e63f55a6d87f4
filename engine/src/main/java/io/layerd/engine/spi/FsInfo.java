package io.layerd.engine.spi;

import io.layerd.sys.StatFs;
import java.util.List;

/**
 * The filesystem under a path: the superblock magic from statfs, and the mount's type, source and
 * options from /proc/self/mountinfo.
 */
public record FsInfo(
    long magic, String type, String mountPoint, String source, List<String> superOptions) {
  public FsInfo {
    superOptions = List.copyOf(superOptions);
  }

  /** NFS by magic (0x6969) or by mount type (nfs, nfs4). */
  public boolean isNfs() {
    return magic == StatFs.NFS_SUPER_MAGIC || type.equals("nfs") || type.equals("nfs4");
  }

  /** A short name like Docker's "Backing Filesystem" ("extfs", "btrfs", "tmpfs", ...). */
  public String backingName() {
    String n = StatFs.name(magic);
    return n.startsWith("unknown") ? type : n;
  }

  public boolean hasOption(String option) {
    return superOptions.contains(option);
  }
}
