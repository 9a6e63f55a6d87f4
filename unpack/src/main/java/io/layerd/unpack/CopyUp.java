package io.layerd.unpack;

import io.layerd.sys.DirEntry;
import io.layerd.sys.DirStack;
import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Brings a file of a lower layer up into the layer being applied, as overlayfs's copy-up does, so
 * that a hardlink in an overlay-form layer can name a file that only its lower layers hold.
 *
 * <p>The lower layers are read-only directories, nearest first. A path is visible from lower layer
 * {@code i} unless a layer above it (the upper being applied, or a nearer lower) holds a whiteout
 * (a 0/0 character device) at the path or one of its parents, or marks a parent directory opaque.
 * Paths are looked up component by component without following symlinks: a hardlink target reached
 * only through a symlink in a lower layer is not found (and the hardlink is then an error).
 */
final class CopyUp {
  private final List<Integer> lowers;
  private final OverlayXattrs markers;

  /**
   * @param lowers descriptors of the lower layers' directories, nearest first (not owned)
   */
  CopyUp(List<Integer> lowers, OverlayXattrs markers) {
    this.lowers = List.copyOf(lowers);
    this.markers = markers;
  }

  /** Where a path is visible: the lower layer's index, or -1 when hidden or absent. */
  int find(int upperFd, List<byte[]> comps) throws IOException {
    List<Integer> layers = new ArrayList<>();
    layers.add(upperFd);
    layers.addAll(lowers);
    for (int i = 0; i < layers.size(); i++) {
      Lookup l = lookup(layers.get(i), comps);
      if (l == Lookup.HIDDEN) {
        return -1;
      }
      if (l == Lookup.FOUND) {
        return i == 0 ? -1 : i - 1; // found in the upper itself: nothing to copy up
      }
      if (l == Lookup.OPAQUE_ABOVE) {
        return -1;
      }
    }
    return -1;
  }

  private enum Lookup {
    FOUND,
    ABSENT,
    HIDDEN,
    OPAQUE_ABOVE
  }

  /** Looks the path up in one layer: found, absent, whited out, or cut off by an opaque parent. */
  private Lookup lookup(int layerFd, List<byte[]> comps) throws IOException {
    int cur = layerFd; // one descriptor at a time, whatever the depth
    try {
      boolean opaque = false;
      for (int d = 0; d < comps.size(); d++) {
        Stat st = RootedTree.statOrNull(cur, comps.get(d));
        if (st == null) {
          return opaque ? Lookup.OPAQUE_ABOVE : Lookup.ABSENT;
        }
        if (st.isWhiteoutDevice()) {
          return Lookup.HIDDEN;
        }
        if (d == comps.size() - 1) {
          return Lookup.FOUND;
        }
        if (!st.isDirectory()) {
          return opaque ? Lookup.OPAQUE_ABOVE : Lookup.ABSENT;
        }
        byte[] o = Sys.lgetxattrAt(cur, comps.get(d), markers.opaque());
        if (o != null && o.length == 1 && o[0] == 'y') {
          opaque = true; // layers below do not show through this directory
        }
        int next = Sys.openat(cur, comps.get(d), Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        if (cur != layerFd) {
          Sys.closeQuietly(cur);
        }
        cur = next;
      }
      return Lookup.ABSENT;
    } finally {
      if (cur != layerFd) {
        Sys.closeQuietly(cur);
      }
    }
  }

  /**
   * Copies the file at {@code comps} up from lower layer {@code index}, together with every other
   * name of the same file that the merged view shows from that layer, linked as one group in the
   * upper (so that a hardlink to it joins the whole group, as it would in a full copy).
   */
  void copyGroup(RootedTree upper, List<byte[]> comps, int index) throws IOException {
    int lowerRoot = lowers.get(index);
    Stat target = lstatLiteral(lowerRoot, comps);
    if (target == null) {
      throw new java.nio.file.NoSuchFileException(
          io.layerd.sys.Names.display(io.layerd.sys.Names.join(comps)));
    }
    copy(upper, comps, index);
    if (target.isDirectory() || target.nlink() < 2) {
      return;
    }
    for (List<byte[]> other : namesOf(lowerRoot, target, comps)) {
      if (find(upper.rootFd(), other) != index) {
        continue; // hidden, or replaced by a nearer layer: not a name of this file any more
      }
      // The target's parents first: a descriptor from the tree is valid until its next lookup.
      int to = ensureParents(upper, other, index);
      int from = upper.dir(comps, comps.size() - 1, false);
      byte[] leaf = other.get(other.size() - 1);
      if (RootedTree.statOrNull(to, leaf) == null) {
        Sys.linkat(from, comps.get(comps.size() - 1), to, leaf, 0);
      }
    }
  }

  /**
   * Other paths of lower layer {@code layerFd} naming the inode {@code st} (at most nlink-1). A
   * depth-first walk holding at most {@link DirStack#MAX_HELD} descriptors.
   */
  private static List<List<byte[]>> namesOf(int layerFd, Stat st, List<byte[]> self)
      throws IOException {
    List<List<byte[]>> out = new ArrayList<>();
    long wanted = st.nlink() - 1;
    try (Fd root =
        new Fd(Sys.openat(layerFd, new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
      DirStack.walk(
          root.get(),
          List.<byte[]>of(),
          new DirStack.Visitor<List<byte[]>>() {
            @Override
            public List<byte[]> visit(int dirFd, DirEntry e, List<byte[]> prefix) {
              List<byte[]> path = new ArrayList<>(prefix);
              path.add(e.name());
              if (e.type() == Sys.DT_DIR) {
                return path;
              }
              if (e.ino() == st.ino() && !samePath(path, self)) {
                out.add(path);
              }
              return null;
            }

            @Override
            public boolean done() {
              return out.size() >= wanted;
            }
          });
    }
    return out;
  }

  private static boolean samePath(List<byte[]> a, List<byte[]> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!java.util.Arrays.equals(a.get(i), b.get(i))) {
        return false;
      }
    }
    return true;
  }

  /** lstat of a path inside one layer, component by component, never following a symlink. */
  private static Stat lstatLiteral(int layerFd, List<byte[]> comps) throws IOException {
    int cur = Sys.dup(layerFd);
    try {
      for (int d = 0; d < comps.size() - 1; d++) {
        int next;
        try {
          next = Sys.openat(cur, comps.get(d), Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        } catch (IOException e) {
          return null;
        }
        Sys.closeQuietly(cur);
        cur = next;
      }
      return RootedTree.statOrNull(cur, comps.get(comps.size() - 1));
    } finally {
      Sys.closeQuietly(cur);
    }
  }

  /**
   * Makes the upper's missing parents of {@code comps}, each taking the owner, mode, times and
   * xattrs of the same directory in lower layer {@code index} (as overlayfs copies parents up).
   * Returns the upper parent's descriptor (owned by the tree's cache).
   */
  private int ensureParents(RootedTree upper, List<byte[]> comps, int index) throws IOException {
    int n = comps.size() - 1;
    int lowerDir = Sys.dup(lowers.get(index));
    try {
      for (int d = 0; d < n; d++) {
        byte[] c = comps.get(d);
        int upperParent = upper.dir(comps, d, true);
        if (RootedTree.statOrNull(upperParent, c) == null) {
          Sys.mkdirat(upperParent, c, 0700);
          try (Fd src =
                  new Fd(
                      Sys.openat(lowerDir, c, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0));
              Fd dst =
                  new Fd(
                      Sys.openat(
                          upperParent, c, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
            attributes(src.get(), dst.get());
          }
        }
        int next = Sys.openat(lowerDir, c, Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        Sys.closeQuietly(lowerDir);
        lowerDir = next;
      }
      return upper.dir(comps, n, true);
    } finally {
      Sys.closeQuietly(lowerDir);
    }
  }

  /** Copies one entry up from lower layer {@code index}, its missing parents first. */
  void copy(RootedTree upper, List<byte[]> comps, int index) throws IOException {
    int n = comps.size() - 1;
    int upperParent = ensureParents(upper, comps, index);
    List<byte[]> parentPath = comps.subList(0, n);
    int lowerDir = Sys.dup(lowers.get(index));
    try {
      for (byte[] c : parentPath) {
        int next = Sys.openat(lowerDir, c, Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        Sys.closeQuietly(lowerDir);
        lowerDir = next;
      }
      byte[] leaf = comps.get(n);
      Stat st = Sys.fstatat(lowerDir, leaf, Sys.AT_SYMLINK_NOFOLLOW);
      if (st.isRegular()) {
        try (Fd src = new Fd(Sys.openat(lowerDir, leaf, Sys.O_RDONLY | Sys.O_NOFOLLOW, 0));
            Fd dst =
                new Fd(
                    Sys.openat(
                        upperParent,
                        leaf,
                        Sys.O_WRONLY | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW,
                        0600))) {
          while (Sys.copyFileRange(src.get(), dst.get(), 1 << 30) > 0) {
            // until the end of the source
          }
          attributes(src.get(), dst.get());
        }
      } else if (st.isSymlink()) {
        Sys.symlinkat(Sys.readlinkat(lowerDir, leaf), upperParent, leaf);
        Sys.fchownat(upperParent, leaf, st.uid(), st.gid(), Sys.AT_SYMLINK_NOFOLLOW);
        Sys.utimensat(
            upperParent,
            leaf,
            st.atimeSec(),
            st.atimeNsec(),
            st.mtimeSec(),
            st.mtimeNsec(),
            Sys.AT_SYMLINK_NOFOLLOW);
      } else if (st.isCharDevice() || st.isBlockDevice() || st.isFifo()) {
        Sys.mknodat(upperParent, leaf, st.mode(), st.rdevMajor(), st.rdevMinor());
        Sys.fchownat(upperParent, leaf, st.uid(), st.gid(), Sys.AT_SYMLINK_NOFOLLOW);
        Sys.fchmodat(upperParent, leaf, st.permissions(), 0);
        Sys.utimensat(
            upperParent,
            leaf,
            st.atimeSec(),
            st.atimeNsec(),
            st.mtimeSec(),
            st.mtimeNsec(),
            Sys.AT_SYMLINK_NOFOLLOW);
      } else {
        throw new IOException(
            "cannot copy up a " + Integer.toOctalString(st.type()) + " from a lower layer");
      }
    } finally {
      Sys.closeQuietly(lowerDir);
    }
  }

  /** Owner, then mode, then xattrs (overlay's own markers excepted), then times. */
  private void attributes(int src, int dst) throws IOException {
    Stat st = Sys.fstat(src);
    Sys.fchown(dst, st.uid(), st.gid());
    Sys.fchmod(dst, st.permissions());
    for (String x : Sys.flistxattr(src)) {
      if (x.startsWith(markers.prefix())) {
        continue;
      }
      byte[] v = Sys.fgetxattr(src, x);
      if (v == null) {
        continue;
      }
      try {
        Sys.fsetxattr(dst, x, v, 0);
      } catch (IOException e) {
        Errno errno = NativeFailure.errnoOf(e);
        if (errno != Errno.EPERM && errno != Errno.EOPNOTSUPP) {
          throw e;
        }
      }
    }
    Sys.futimens(dst, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
  }
}
