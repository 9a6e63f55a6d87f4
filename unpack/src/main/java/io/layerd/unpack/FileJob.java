package io.layerd.unpack;

import io.layerd.sys.Sys;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A regular file to finish, on a writer's thread or the applying one: its contents (unless written
 * already), then its owner, mode, xattrs and times, on its descriptor.
 */
final class FileJob implements Writers.Job {
  static final int FLAGS = Sys.O_WRONLY | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW;

  private final EntryAttributes attributes;
  final TarEntry e;
  final List<Chunks.Slice> slices = new ArrayList<>(2);
  int fd;
  long uid;
  long gid;

  /** For a file the writer creates: its directory and name. */
  WriterGate.DirRef dir;

  byte[] leaf;

  FileJob(EntryAttributes attributes, TarEntry e, int fd) {
    this.attributes = attributes;
    this.e = e;
    this.fd = fd;
  }

  @Override
  public TarEntry entry() {
    return e;
  }

  @Override
  public void run() throws IOException {
    try {
      if (fd < 0) {
        int f = Sys.tryOpenat(dir.fd, leaf, FLAGS, 0600);
        if (f < 0) {
          throw Sys.error("openat", -f, dir.fd, leaf);
        }
        fd = f;
      }
      for (Chunks.Slice piece : slices) {
        Sys.writeFully(fd, piece.bytes);
        piece.release();
      }
      attributes.ownModeXattrs(e, fd, uid, gid);
      Sys.futimens(fd, e.atimeSec(), e.atimeNsec(), e.mtimeSec(), e.mtimeNsec());
      int f = fd;
      fd = -1;
      Sys.close(f);
    } finally {
      abandon();
    }
  }

  @Override
  public void abandon() {
    for (Chunks.Slice piece : slices) {
      piece.release();
    }
    slices.clear();
    if (fd >= 0) {
      Sys.closeQuietly(fd);
      fd = -1;
    }
    if (dir != null) {
      dir.release();
      dir = null;
    }
  }
}
