package io.layerd.unpack;

import io.layerd.sys.DirStack;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The layer's whiteouts ({@code .wh.NAME}) and opaque markers ({@code .wh..wh..opq}): in APPLY mode
 * they remove what the lower layers have (never what this layer makes, whatever the entry order)
 * and keep the parent's times; in OVERLAY mode they become overlayfs's 0/0 character devices and
 * opaque xattrs.
 */
final class Whiteouts {
  private static final byte[] WH = {'.', 'w', 'h', '.'};
  private static final byte[] OPAQUE = Names.bytes(".wh..wh..opq");
  private static final byte[] AUFS_META = Names.bytes(".wh..wh.");

  private final ApplyState s;
  private final EntryAttributes attributes;

  Whiteouts(ApplyState state, EntryAttributes attributes) {
    this.s = state;
    this.attributes = attributes;
  }

  /** Whether an entry's last component names a whiteout (in a mode that applies them). */
  boolean isWhiteout(byte[] leaf) {
    return s.whiteouts != WhiteoutMode.KEEP && startsWith(leaf, WH);
  }

  void whiteout(TarEntry e, List<byte[]> comps, byte[] leaf) throws IOException {
    s.whiteoutCount++;
    int n = comps.size() - 1;
    if (Arrays.equals(leaf, OPAQUE)) {
      opaque(e, comps, n);
      return;
    }
    if (startsWith(leaf, AUFS_META)) {
      return; // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not content
    }
    byte[] victim = Arrays.copyOfRange(leaf, WH.length, leaf.length);
    if (victim.length == 0 || Names.isDot(victim) || Names.isDotDot(victim)) {
      throw new InvalidArchiveException(
          "invalid whiteout '" + e.displayName() + "': it names no file in its directory",
          e.offset());
    }
    // A whiteout hides what the lower layers have at NAME, never what this layer makes there,
    // before or after the whiteout: when this layer made NAME (or something below it), NAME
    // stays and only the lower contents of a directory NAME are hidden.
    List<byte[]> victimPath = new ArrayList<>(comps.subList(0, n));
    victimPath.add(victim);
    String victimKey = RootedTree.key(victimPath, victimPath.size());
    boolean ours = s.ours(victimKey);
    RootedTree tree = s.tree;
    if (s.whiteouts == WhiteoutMode.OVERLAY) {
      int pfd = tree.dir(comps, n, false);
      if (pfd < 0) {
        if (blocked(comps, n)) {
          return; // e.g. ".wh.foo" then "foo/.wh.bar": foo is already a whiteout
        }
        // The upper directory lacks the parent (the layer has no entry for it): make it, or the
        // whiteout is lost and the lower file shows through.
        pfd = tree.dir(comps, n, true);
      }
      if (ours) {
        Stat st = RootedTree.statOrNull(pfd, victim);
        if (st != null && st.isDirectory()) {
          attributes.markOpaque(e.displayName(), pfd, victim);
        }
        return; // a non-directory of the upper layer hides the lower NAME by itself
      }
      s.clear(pfd, victim, false);
      Sys.mknodat(pfd, victim, Sys.S_IFCHR, 0, 0);
      s.whiteoutDevices.add(victimKey);
      attributes.chownAt(e, pfd, victim);
      return;
    }
    int pfd = tree.dir(comps, n, false);
    if (pfd < 0) {
      return; // the parent is not there (or not a directory): nothing to hide
    }
    if (ours) {
      Stat st = RootedTree.statOrNull(pfd, victim);
      if (st != null && st.isDirectory()) {
        try (Fd d =
            new Fd(Sys.openat(pfd, victim, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
          if (hideLower(d.get(), victimKey)) {
            tree.invalidate();
          }
        }
      }
      return;
    }
    Stat parent = Sys.fstat(pfd);
    if (RootedTree.removeAll(pfd, victim)) {
      tree.invalidate();
    }
    keepTimes(pfd, parent);
  }

  /** Whether the name in the directory is an overlay whiteout (a 0/0 character device). */
  static boolean isWhiteoutDevice(int parentFd, byte[] name) throws IOException {
    Stat st = RootedTree.statOrNull(parentFd, name);
    return st != null && st.isWhiteoutDevice();
  }

  /**
   * True when a file, device or fifo (not a directory, not a symlink) stands on the path of the
   * first {@code n} components, so that nothing can lie below it.
   */
  private boolean blocked(List<byte[]> comps, int n) throws IOException {
    for (int i = 1; i <= n; i++) {
      if (s.tree.dir(comps, i, false) >= 0) {
        continue;
      }
      int pfd = s.tree.dir(comps, i - 1, false);
      Stat st = pfd < 0 ? null : RootedTree.statOrNull(pfd, comps.get(i - 1));
      return st != null && !st.isDirectory() && !st.isSymlink();
    }
    return false;
  }

  private void opaque(TarEntry e, List<byte[]> comps, int n) throws IOException {
    int dfd = s.tree.dir(comps, n, true);
    if (s.whiteouts == WhiteoutMode.OVERLAY) {
      // dfd is an O_PATH descriptor, which fsetxattr refuses (EBADF): open the directory itself.
      try (Fd d = new Fd(Sys.openat(dfd, new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
        attributes.markOpaque(e.displayName(), d.get());
      }
      if (n == 0) {
        s.warn(
            "'"
                + e.displayName()
                + "' makes the top directory opaque, which overlayfs ignores on an upper layer's"
                + " root: the lower layers' top-level entries stay visible");
      }
      return;
    }
    String dirKey = RootedTree.key(comps, n);
    Stat before = Sys.fstat(dfd);
    try (Fd d = new Fd(Sys.openat(dfd, new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
      if (hideLower(d.get(), dirKey)) {
        s.tree.invalidate();
      }
      keepTimes(d.get(), before);
    }
  }

  /**
   * Under the directory open as {@code top} (named {@code topKey}), removes everything this layer
   * did not make, keeping the layer's entries and the directories leading to them, and cleaning
   * those too: what an opaque directory hides, whether its marker comes before or after the layer's
   * other entries. Iterative, like {@link RootedTree#removeAll}. True when it removed a directory
   * or symlink.
   */
  private boolean hideLower(int top, String topKey) throws IOException {
    boolean[] removed = {false};
    DirStack.walk(
        top,
        topKey,
        (fd, child, parentKey) -> {
          String name = new String(child.name(), StandardCharsets.ISO_8859_1);
          String key = parentKey.isEmpty() ? name : parentKey + "/" + name;
          if (!s.ours(key)) {
            removed[0] |= RootedTree.removeAll(fd, child.name());
            return null;
          }
          Stat st = RootedTree.statOrNull(fd, child.name());
          return st != null && st.isDirectory() ? key : null;
        });
    return removed[0];
  }

  /** Puts a directory's times back after a whiteout removed something from it. */
  private static void keepTimes(int dirFd, Stat before) throws IOException {
    Sys.utimensat(
        dirFd,
        new byte[0],
        before.atimeSec(),
        before.atimeNsec(),
        before.mtimeSec(),
        before.mtimeNsec(),
        Sys.AT_EMPTY_PATH);
  }

  private static boolean startsWith(byte[] s, byte[] prefix) {
    if (s.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (s[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
