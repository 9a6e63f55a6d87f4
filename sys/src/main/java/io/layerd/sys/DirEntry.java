package io.layerd.sys;

/**
 * One entry of a directory as getdents64(2) returns it: the name as raw bytes, the inode and the
 * d_type (one of the {@code Sys.DT_*} values; {@code DT_UNKNOWN} where the filesystem does not fill
 * it in).
 */
public record DirEntry(byte[] name, long ino, int type) {
  public String displayName() {
    return Names.display(name);
  }
}
