package io.layerd.sys;

/** What statfs(2) reports for a filesystem. {@code type} is the superblock magic. */
public record StatFs(
    long type,
    long blockSize,
    long blocks,
    long blocksFree,
    long blocksAvailable,
    long files,
    long filesFree,
    long nameMax,
    long fragmentSize,
    long flags) {

  /** Superblock magics (include/uapi/linux/magic.h) of filesystems that matter to layerd. */
  public static final long EXT4_SUPER_MAGIC = 0xEF53L;

  public static final long XFS_SUPER_MAGIC = 0x58465342L;
  public static final long BTRFS_SUPER_MAGIC = 0x9123683EL;
  public static final long TMPFS_MAGIC = 0x01021994L;
  public static final long OVERLAYFS_SUPER_MAGIC = 0x794c7630L;
  public static final long NFS_SUPER_MAGIC = 0x6969L;
  public static final long FUSE_SUPER_MAGIC = 0x65735546L;
  public static final long ZFS_SUPER_MAGIC = 0x2fc12fc1L;
  public static final long ECRYPTFS_SUPER_MAGIC = 0xf15fL;
  public static final long SMB2_MAGIC_NUMBER = 0xfe534d42L;
  public static final long CIFS_MAGIC_NUMBER = 0xff534d42L;
  public static final long AUFS_SUPER_MAGIC = 0x61756673L;
  public static final long PROC_SUPER_MAGIC = 0x9fa0L;

  /** A short name for a magic number, like Docker's "Backing Filesystem" status line. */
  public static String name(long magic) {
    if (magic == EXT4_SUPER_MAGIC) {
      return "extfs";
    } else if (magic == XFS_SUPER_MAGIC) {
      return "xfs";
    } else if (magic == BTRFS_SUPER_MAGIC) {
      return "btrfs";
    } else if (magic == TMPFS_MAGIC) {
      return "tmpfs";
    } else if (magic == OVERLAYFS_SUPER_MAGIC) {
      return "overlayfs";
    } else if (magic == NFS_SUPER_MAGIC) {
      return "nfs";
    } else if (magic == FUSE_SUPER_MAGIC) {
      return "fuse";
    } else if (magic == ZFS_SUPER_MAGIC) {
      return "zfs";
    } else if (magic == ECRYPTFS_SUPER_MAGIC) {
      return "ecryptfs";
    } else if (magic == SMB2_MAGIC_NUMBER) {
      return "smb2";
    } else if (magic == CIFS_MAGIC_NUMBER) {
      return "cifs";
    } else if (magic == AUFS_SUPER_MAGIC) {
      return "aufs";
    } else if (magic == PROC_SUPER_MAGIC) {
      return "proc";
    }
    return String.format("unknown (0x%x)", magic);
  }

  public String typeName() {
    return name(type);
  }
}
