package io.layerd.sys;

/**
 * What statx(2) reports for one inode, without following a final symlink unless asked. Ids are
 * unsigned 32-bit values held in {@code long}s.
 */
public record Stat(
    long dev,
    long ino,
    int mode,
    long nlink,
    long uid,
    long gid,
    long rdevMajor,
    long rdevMinor,
    long size,
    long blocks,
    long atimeSec,
    int atimeNsec,
    long mtimeSec,
    int mtimeNsec,
    long ctimeSec,
    int ctimeNsec) {

  public int type() {
    return mode & Sys.S_IFMT;
  }

  /** Permission bits with setuid, setgid and sticky: {@code mode & 07777}. */
  public int permissions() {
    return mode & 07777;
  }

  public boolean isDirectory() {
    return type() == Sys.S_IFDIR;
  }

  public boolean isRegular() {
    return type() == Sys.S_IFREG;
  }

  public boolean isSymlink() {
    return type() == Sys.S_IFLNK;
  }

  public boolean isCharDevice() {
    return type() == Sys.S_IFCHR;
  }

  public boolean isBlockDevice() {
    return type() == Sys.S_IFBLK;
  }

  public boolean isFifo() {
    return type() == Sys.S_IFIFO;
  }

  public boolean isSocket() {
    return type() == Sys.S_IFSOCK;
  }

  /** True for an overlayfs whiteout: a character device 0/0. */
  public boolean isWhiteoutDevice() {
    return isCharDevice() && rdevMajor == 0 && rdevMinor == 0;
  }

  /** Device and inode together identify a file: equal keys mean hardlinks of one inode. */
  public String inodeKey() {
    return dev + ":" + ino;
  }
}
