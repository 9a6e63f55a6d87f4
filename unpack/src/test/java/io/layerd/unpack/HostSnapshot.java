package io.layerd.unpack;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.unpack.internal.LayerStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Everything under a host directory except one subtree (the root a layer is applied to), recorded
 * strictly enough to prove that applying a layer did not touch it: type, mode, owner, inode, link
 * count, size, mtime and ctime (both with nanoseconds), content digest, link target. A hardlink
 * made to a host file raises its link count and ctime; a chmod through a symlink changes mode and
 * ctime; a new or removed name shows as an added or missing path.
 */
public final class HostSnapshot {
  private final Path top;
  private final Path excluded;
  private final Map<String, String> entries;

  private HostSnapshot(Path top, Path excluded, Map<String, String> entries) {
    this.top = top;
    this.excluded = excluded;
    this.entries = entries;
  }

  /** Records everything under {@code top} (itself included), leaving out {@code excluded}. */
  public static HostSnapshot of(Path top, Path excluded) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(top)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (p.startsWith(excluded) && !p.equals(excluded)) {
          continue;
        }
        out.put(top.relativize(p).toString(), describe(p, p.equals(excluded)));
      }
    }
    return new HostSnapshot(top, excluded, out);
  }

  private static String describe(Path p, boolean excludedRoot) throws IOException {
    Stat st = Sys.lstat(p.toString());
    if (excludedRoot) {
      // The root itself may change (its mode, times, contents); only that it is still a directory
      // and the same one matters.
      return "root dir ino=" + st.ino();
    }
    StringBuilder sb = new StringBuilder();
    sb.append(
            String.format(
                "type=%o mode=%04o owner=%d:%d", st.type(), st.permissions(), st.uid(), st.gid()))
        .append(" ino=")
        .append(st.ino())
        .append(" nlink=")
        .append(st.nlink())
        .append(" size=")
        .append(st.size())
        .append(" mtime=")
        .append(st.mtimeSec())
        .append('.')
        .append(st.mtimeNsec())
        .append(" ctime=")
        .append(st.ctimeSec())
        .append('.')
        .append(st.ctimeNsec());
    if (st.isRegular()) {
      sb.append(" sha256=").append(sha256(Files.readAllBytes(p)));
    } else if (st.isSymlink()) {
      sb.append(" target=").append(Files.readSymbolicLink(p));
    }
    return sb.toString();
  }

  static String sha256(byte[] b) {
    return HexFormat.of().formatHex(LayerStream.sha256().digest(b));
  }

  /** The differences between this snapshot and the host as it is now; empty when untouched. */
  public List<String> changes() throws IOException {
    HostSnapshot now = of(top, excluded);
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, String> e : entries.entrySet()) {
      String after = now.entries.get(e.getKey());
      if (after == null) {
        out.add("removed: " + name(e.getKey()) + " (was " + e.getValue() + ")");
      } else if (!Objects.equals(after, e.getValue())) {
        out.add(
            "changed: "
                + name(e.getKey())
                + "\n    before "
                + e.getValue()
                + "\n    after  "
                + after);
      }
    }
    for (Map.Entry<String, String> e : now.entries.entrySet()) {
      if (!entries.containsKey(e.getKey())) {
        out.add("created: " + name(e.getKey()) + " (" + e.getValue() + ")");
      }
    }
    if (!Files.isDirectory(excluded, LinkOption.NOFOLLOW_LINKS)) {
      out.add("the root " + excluded + " is no longer a directory");
    }
    return out;
  }

  private String name(String rel) {
    return top.resolve(rel).toString();
  }
}
