package io.layerd.unpack;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.util.List;

/**
 * Makes each kind of entry in its parent directory (found through the {@link WriterGate}): what is
 * in the way goes first (a directory over a directory is kept), the new name is made exclusively,
 * then its attributes are set in {@link EntryAttributes}'s order.
 */
final class EntryMaker {
  private final ApplyState s;
  private final EntryAttributes attributes;
  private final WriterGate gate;

  EntryMaker(ApplyState state, EntryAttributes attributes, WriterGate gate) {
    this.s = state;
    this.attributes = attributes;
    this.gate = gate;
  }

  void directory(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
    int pfd = gate.parent(comps, n);
    // Made first; only a name already there (EEXIST) is looked at: an overlay whiteout is replaced
    // (and the new directory made opaque), a directory kept, anything else cleared.
    int r = Sys.tryMkdirat(pfd, leaf, 0700);
    boolean made = r == 0;
    boolean overWhiteout = false;
    if (r == -Errno.EEXIST.number()) {
      overWhiteout = s.whiteouts == WhiteoutMode.OVERLAY && Whiteouts.isWhiteoutDevice(pfd, leaf);
      Stat old = s.clear(pfd, leaf, true);
      if (old == null) {
        Sys.mkdirat(pfd, leaf, 0700);
      }
    } else if (r < 0) {
      throw Sys.error("mkdirat", -r, pfd, leaf);
    }
    try (Fd fd =
        new Fd(Sys.openat(pfd, leaf, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
      RootedTree.DirId id = null;
      if (made && s.writers != null) {
        id = gate.madeDirectory(fd.get());
      }
      attributes.ownModeXattrs(e, fd.get());
      if (overWhiteout) {
        // Made again after its whiteout: it must hide the lower directory's contents.
        attributes.markOpaque(e.displayName(), fd.get());
      }
      if (made && s.tree.adopt(gate.key, fd.get(), id)) {
        fd.release(); // the tree's lookup of this directory now: its entries need no openat2
      }
    }
    s.made(comps);
    s.dirTimes.add(ApplyState.DirTime.of(RootedTree.key(comps, comps.size()), e));
    s.dirs++;
  }

  /** A directory entry naming the root: its owner, mode and xattrs now, its times at the end. */
  void root(TarEntry e) throws IOException {
    attributes.ownModeXattrs(e, s.rootFd);
    s.dirTimes.add(ApplyState.DirTime.of("", e));
  }

  void file(TarEntry e, List<byte[]> comps, byte[] leaf, int n, TarReader reader)
      throws IOException {
    int pfd = gate.parent(comps, n);
    FileJob job;
    if (gate.deferCreate) {
      job = new FileJob(attributes, e, -1); // made by a writer, in a directory nothing else writes
      job.dir = gate.handOver(pfd);
      job.leaf = leaf;
    } else {
      int fd = Sys.tryOpenat(pfd, leaf, FileJob.FLAGS, 0600);
      if (fd == -Errno.EEXIST.number()) {
        s.clear(pfd, leaf, false); // whatever is in the way goes; then created exclusively
        fd = Sys.openat(pfd, leaf, FileJob.FLAGS, 0600);
      } else if (fd < 0) {
        throw Sys.error("openat", -fd, pfd, leaf);
      }
      job = new FileJob(attributes, e, fd);
    }
    boolean pooled = gate.pooled(e);
    try {
      job.uid = s.owners.uid(e.uid(), e);
      job.gid = s.owners.gid(e.gid(), e);
      if (job.uid == OwnerMapper.KEEP || job.gid == OwnerMapper.KEEP) {
        s.keptOwners++;
      }
      if (pooled) {
        Chunks.Slice piece;
        while ((piece = reader.slice(s.tar, Integer.MAX_VALUE)) != null) {
          job.slices.add(piece);
        }
      } else {
        writeContent(e, job.fd, reader, s.tar);
      }
    } catch (Throwable ex) { // an Error too: the job's descriptor and directory go back
      job.abandon();
      throw ex;
    }
    s.made(gate.key);
    s.files++;
    s.fileBytes += e.size();
    if (pooled) {
      gate.submit(job, e.size(), job.fd >= 0);
    } else {
      job.run(); // here: a large or sparse file (already written), or no writers
    }
  }

  private static void writeContent(
      TarEntry e, int fd, TarReader reader, LayerPipeline.ChunkStream tar) throws IOException {
    if (e.sparse() == null) {
      copy(fd, reader, tar, Long.MAX_VALUE, -1);
      return;
    }
    // A sparse file: each data segment at its offset, the holes left as holes.
    for (long[] seg : e.sparse()) {
      copy(fd, reader, tar, seg[1], seg[0]);
    }
    Sys.ftruncate(fd, e.size());
  }

  /** Copies up to {@code limit} bytes of entry data, at {@code at} (or the file offset if -1). */
  private static void copy(
      int fd, TarReader reader, LayerPipeline.ChunkStream tar, long limit, long at)
      throws IOException {
    long left = limit;
    long pos = at;
    while (left > 0) {
      Chunks.Slice piece = reader.slice(tar, (int) Math.min(Integer.MAX_VALUE, left));
      if (piece == null) {
        if (limit != Long.MAX_VALUE) {
          throw new InvalidArchiveException("a sparse segment is cut short", reader.position());
        }
        return;
      }
      try {
        int r = piece.length();
        if (pos < 0) {
          Sys.writeFully(fd, piece.bytes);
        } else {
          Sys.pwriteFully(fd, piece.bytes, pos);
          pos += r;
        }
        left -= r;
      } finally {
        piece.release();
      }
    }
  }

  void symlink(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
    int pfd = gate.parent(comps, n);
    int r = Sys.trySymlinkat(e.linkName(), pfd, leaf);
    if (r == -Errno.EEXIST.number()) {
      s.clear(pfd, leaf, false);
      Sys.symlinkat(e.linkName(), pfd, leaf);
      s.tree.invalidate(); // a lookup cached through this name would now resolve differently
    } else if (r < 0) {
      throw Sys.error("symlinkat", -r, pfd, leaf, Sys.AT_FDCWD, e.linkName());
    }
    // A new name (no EEXIST): no cached lookup can have gone through it, since a lookup only
    // passes through names that exist, and removing a directory or symlink flushes the cache.
    attributes.chownAt(e, pfd, leaf);
    attributes.xattrsAt(e, pfd, leaf);
    attributes.timesAt(e, pfd, leaf);
    s.made(comps);
    s.symlinks++;
  }

  void hardlink(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
    List<byte[]> target = LayerApplier.clean(e.linkName());
    if (target.isEmpty()) {
      throw new InvalidArchiveException(
          "hardlink '" + e.displayName() + "' points at the root", e.offset());
    }
    RootedTree tree = s.tree;
    gate.parent(comps, n); // made before the target is looked up; found again below
    int tpfd = tree.dir(target, target.size() - 1, false);
    byte[] tleaf = target.get(target.size() - 1);
    Stat tst = tpfd < 0 ? null : RootedTree.statOrNull(tpfd, tleaf);
    if (tst == null && s.copyUp != null) {
      int index = s.copyUp.find(s.rootFd, target);
      if (index >= 0) {
        s.copyUp.copyGroup(tree, target, index);
        gate.copiedUp();
        tpfd = tree.dir(target, target.size() - 1, false);
        tst = tpfd < 0 ? null : RootedTree.statOrNull(tpfd, tleaf);
      }
    }
    if (tst == null) {
      throw new InvalidArchiveException(
          "hardlink '"
              + e.displayName()
              + "' points at '"
              + e.displayLinkName()
              + "', which does not exist (in this layer before it, or in the layers below)",
          e.offset());
    }
    if (tst.isDirectory()) {
      throw new InvalidArchiveException(
          "hardlink '"
              + e.displayName()
              + "' points at the directory '"
              + e.displayLinkName()
              + "'",
          e.offset());
    }
    // pfd may have been evicted by the second lookup only if the cache was invalidated, which
    // lookups never do; look it up again to be sure it is the live descriptor.
    int pfd = tree.dir(comps, n, true);
    int from = tpfd < 0 ? s.rootFd : tpfd;
    int r = Sys.tryLinkat(from, tleaf, pfd, leaf, 0);
    if (r == -Errno.EEXIST.number()) {
      Stat old = RootedTree.statOrNull(pfd, leaf);
      if (old != null && old.dev() == tst.dev() && old.ino() == tst.ino()) {
        s.hardlinks++;
        return; // already that very file
      }
      s.clear(pfd, leaf, false);
      Sys.linkat(from, tleaf, pfd, leaf, 0);
    } else if (r < 0) {
      throw Sys.error("linkat", -r, pfd, leaf, from, tleaf);
    }
    s.made(comps);
    s.hardlinks++;
  }

  /** A character or block device, or a fifo. */
  void node(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
    int pfd = gate.parent(comps, n);
    s.clear(pfd, leaf, false);
    int type =
        e.type() == TarEntry.Type.CHAR_DEVICE
            ? Sys.S_IFCHR
            : e.type() == TarEntry.Type.BLOCK_DEVICE ? Sys.S_IFBLK : Sys.S_IFIFO;
    try {
      Sys.mknodat(pfd, leaf, type | (e.permissions() & 0777), e.devMajor(), e.devMinor());
    } catch (IOException ex) {
      if (!s.strictDevices && type != Sys.S_IFIFO && NativeFailure.errnoOf(ex) == Errno.EPERM) {
        s.skippedDevices++;
        s.warn(
            "skipped device '"
                + e.displayName()
                + "' ("
                + e.devMajor()
                + ","
                + e.devMinor()
                + "): mknod is not permitted here (a user namespace)");
        return;
      }
      throw ex;
    }
    attributes.chownAt(e, pfd, leaf);
    Sys.fchmodat(pfd, leaf, e.permissions(), 0);
    attributes.xattrsAt(e, pfd, leaf);
    attributes.timesAt(e, pfd, leaf);
    s.made(comps);
  }
}
