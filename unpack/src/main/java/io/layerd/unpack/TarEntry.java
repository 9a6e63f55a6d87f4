package io.layerd.unpack;

import io.layerd.sys.Names;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One tar entry as the archive states it, immutable, with every PAX and GNU extension already
 * folded in. Names and link targets are raw bytes; xattr values are raw bytes.
 *
 * @param offset the byte offset of the entry's first header in the uncompressed stream
 * @param sparse for a GNU sparse file, the data segments (offset, length) in the expanded file;
 *     null for an ordinary file. {@link #size} is then the expanded size.
 */
public record TarEntry(
    Type type,
    byte[] name,
    byte[] linkName,
    int mode,
    long uid,
    long gid,
    String uname,
    String gname,
    long size,
    long mtimeSec,
    int mtimeNsec,
    long atimeSec,
    int atimeNsec,
    long devMajor,
    long devMinor,
    Map<String, byte[]> xattrs,
    List<long[]> sparse,
    long offset) {

  /** Entry types, by tar typeflag. */
  public enum Type {
    FILE,
    HARDLINK,
    SYMLINK,
    CHAR_DEVICE,
    BLOCK_DEVICE,
    DIRECTORY,
    FIFO,
    /** A typeflag this reader does not know; its data is skipped. */
    UNKNOWN
  }

  public TarEntry {
    xattrs = xattrs.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(xattrs));
    sparse = sparse == null ? null : List.copyOf(sparse);
  }

  /** The name for messages (non-UTF-8 bytes escaped). */
  public String displayName() {
    return Names.display(name);
  }

  public String displayLinkName() {
    return Names.display(linkName);
  }

  /** Permission bits including setuid, setgid and sticky. */
  public int permissions() {
    return mode & 07777;
  }

  @Override
  public String toString() {
    return type + " " + displayName() + (linkName.length > 0 ? " -> " + displayLinkName() : "");
  }
}
