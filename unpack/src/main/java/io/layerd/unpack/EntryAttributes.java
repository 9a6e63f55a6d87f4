package io.layerd.unpack;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An entry's owner, mode, xattrs and times, in the one order that keeps each: owner, then mode
 * (chown clears setuid/setgid), then xattrs (chown clears capabilities), then times; directories'
 * times last ({@link #finishDirectoryTimes}). Set on a descriptor or with AT_SYMLINK_NOFOLLOW,
 * never through a symlink. Writers call {@link #ownModeXattrs(TarEntry, int, long, long)} too.
 */
final class EntryAttributes {
  private static final byte[] OPAQUE_VALUE = {'y'};

  private final ApplyState s;

  EntryAttributes(ApplyState state) {
    this.s = state;
  }

  @FunctionalInterface
  private interface IoAction {
    void run() throws IOException;
  }

  /** Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears capabilities). */
  void ownModeXattrs(TarEntry e, int fd) throws IOException {
    long uid = s.owners.uid(e.uid(), e);
    long gid = s.owners.gid(e.gid(), e);
    if (uid == OwnerMapper.KEEP || gid == OwnerMapper.KEEP) {
      s.keptOwners++;
    }
    ownModeXattrs(e, fd, uid, gid);
  }

  /** Owner (already mapped; KEEP leaves it), mode and xattrs, on a descriptor. */
  void ownModeXattrs(TarEntry e, int fd, long uid, long gid) throws IOException {
    if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
      chown(e, () -> Sys.fchownat(fd, new byte[0], uid, gid, Sys.AT_EMPTY_PATH), uid, gid);
    }
    Sys.fchmod(fd, e.permissions());
    for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
      setXattr(e, fd, null, x.getKey(), x.getValue());
    }
  }

  void chownAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
    long uid = s.owners.uid(e.uid(), e);
    long gid = s.owners.gid(e.gid(), e);
    if (uid == OwnerMapper.KEEP || gid == OwnerMapper.KEEP) {
      s.keptOwners++;
    }
    if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
      chown(e, () -> Sys.fchownat(pfd, leaf, uid, gid, Sys.AT_SYMLINK_NOFOLLOW), uid, gid);
    }
  }

  private void chown(TarEntry e, IoAction action, long uid, long gid) throws IOException {
    try {
      action.run();
    } catch (IOException ex) {
      IOException explained = s.owners.chownFailed(e, e.uid(), e.gid(), ex);
      if (explained == ex && NativeFailure.errnoOf(ex) == Errno.EINVAL) {
        throw new IOException(
            "cannot give '"
                + e.displayName()
                + "' the owner "
                + uid
                + ":"
                + gid
                + ": this user namespace does not map that id (chown: EINVAL). Grant more"
                + " subordinate ids in /etc/subuid and /etc/subgid (layerctl check-ids tells how"
                + " many), or apply with --on-unmapped-id=squash|skip",
            ex);
      }
      throw explained;
    }
  }

  /** The entry's times on a name in a directory, never following a symlink. */
  void timesAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
    Sys.utimensat(
        pfd,
        leaf,
        e.atimeSec(),
        e.atimeNsec(),
        e.mtimeSec(),
        e.mtimeNsec(),
        Sys.AT_SYMLINK_NOFOLLOW);
  }

  void xattrsAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
    for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
      setXattr(e, pfd, leaf, x.getKey(), x.getValue());
    }
  }

  /**
   * Sets one xattr of the layer's content on a descriptor (leaf null) or on a name in a directory,
   * not following. In overlay mode the content's own overlay xattrs (the opaque one included) are
   * escaped, so that overlayfs shows them instead of obeying them.
   */
  private void setXattr(TarEntry e, int fd, byte[] leaf, String name, byte[] value)
      throws IOException {
    writeXattr(
        e.displayName(),
        fd,
        leaf,
        s.whiteouts == WhiteoutMode.OVERLAY ? s.overlayXattrs.escape(name) : name,
        value);
  }

  /** Sets the overlay opaque marker on the directory open as {@code dirFd} (not O_PATH). */
  void markOpaque(String entry, int dirFd) throws IOException {
    writeXattr(entry, dirFd, null, s.overlayXattrs.opaque(), OPAQUE_VALUE);
  }

  /** Sets the overlay opaque marker on the directory {@code name} of {@code parentFd}. */
  void markOpaque(String entry, int parentFd, byte[] name) throws IOException {
    try (Fd d =
        new Fd(Sys.openat(parentFd, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
      markOpaque(entry, d.get());
    }
  }

  /** Sets an xattr by exactly this name; a refusal by the target is counted and reported. */
  private void writeXattr(String entry, int fd, byte[] leaf, String stored, byte[] value)
      throws IOException {
    try {
      if (leaf == null) {
        Sys.fsetxattr(fd, stored, value, 0);
      } else {
        Sys.lsetxattrAt(fd, leaf, stored, value, 0);
      }
    } catch (IOException ex) {
      Errno errno = NativeFailure.errnoOf(ex);
      if (errno == Errno.EPERM || errno == Errno.EOPNOTSUPP || errno == Errno.EACCES) {
        s.refusedXattrs.incrementAndGet();
        s.warn(
            "xattr " + stored + " on '" + entry + "' refused by the target (" + errno.name() + ")");
        return;
      }
      throw ex;
    }
  }

  /**
   * A directory made because an entry's parent was missing ({@link RootedTree.ImpliedDir}): 0755
   * and the mapped root's owner; made where this layer put an overlay whiteout, it is opaque.
   */
  void implied(int parentFd, byte[] name, boolean overWhiteout) throws IOException {
    Sys.fchmodat(parentFd, name, 0755, 0);
    if (overWhiteout && s.whiteouts == WhiteoutMode.OVERLAY) {
      // Made where this layer put a whiteout: it must hide the lower directory's contents.
      markOpaque(Names.display(name), parentFd, name);
    }
    long uid = s.owners.rootUid();
    long gid = s.owners.rootGid();
    if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
      Sys.fchownat(parentFd, name, uid, gid, Sys.AT_SYMLINK_NOFOLLOW);
    }
  }

  /** Gives each directory entry its times, the last entry for a directory winning. */
  void finishDirectoryTimes() throws IOException {
    Set<String> done = new HashSet<>();
    for (int i = s.dirTimes.size() - 1; i >= 0; i--) {
      ApplyState.DirTime t = s.dirTimes.get(i);
      if (!done.add(t.key())) {
        continue; // a later entry for the same directory gave its times: the later wins
      }
      if (t.key().isEmpty()) {
        Sys.futimens(s.rootFd, t.atimeSec(), t.atimeNsec(), t.mtimeSec(), t.mtimeNsec());
        continue;
      }
      List<byte[]> comps = Names.split(t.key().getBytes(StandardCharsets.ISO_8859_1));
      int n = comps.size() - 1;
      int pfd = s.tree.dir(comps, n, false);
      if (pfd < 0) {
        continue;
      }
      byte[] leaf = comps.get(n);
      Stat st = RootedTree.statOrNull(pfd, leaf);
      if (st == null || !st.isDirectory()) {
        continue; // replaced or removed by a later entry
      }
      Sys.utimensat(
          pfd,
          leaf,
          t.atimeSec(),
          t.atimeNsec(),
          t.mtimeSec(),
          t.mtimeNsec(),
          Sys.AT_SYMLINK_NOFOLLOW);
    }
  }
}
