package io.layerd.unpack.image;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * The files of an image laid out in a directory. Each name is opened under the directory's
 * descriptor as if it were the root ({@link Sys#openInRoot}): a symlink inside the layout cannot
 * lead out of it, and only regular files are read.
 */
final class DirectoryBlobs implements BlobStore {
  private final Path dir;
  private final Fd root;

  private DirectoryBlobs(Path dir, Fd root) {
    this.dir = dir;
    this.root = root;
  }

  static DirectoryBlobs open(Path dir) throws IOException {
    return new DirectoryBlobs(dir, Sys.openDirectory(dir.toString()));
  }

  @Override
  public Blob find(String name) throws IOException {
    int fd;
    try {
      fd = Sys.openInRoot(root.get(), Names.bytes(name), Sys.O_RDONLY | Sys.O_NONBLOCK, 0);
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (errno == Errno.ENOENT || errno == Errno.ENOTDIR) {
        return null;
      }
      throw e;
    }
    try (Fd f = new Fd(fd)) {
      Stat st = Sys.fstat(f.get());
      if (!st.isRegular()) {
        throw new ImageException(dir.resolve(name) + " is not a regular file");
      }
      return new Blob(name, st.size());
    }
  }

  @Override
  public InputStream open(Blob blob) throws IOException {
    int flags = Sys.O_RDONLY | Sys.O_NONBLOCK; // a fifo put in its place must not block the open
    try (Fd f = new Fd(Sys.openInRoot(root.get(), Names.bytes(blob.name()), flags, 0))) {
      Stat st = Sys.fstat(f.get());
      if (!st.isRegular()) {
        throw new ImageException(dir.resolve(blob.name()) + " is not a regular file");
      }
      // Reopen the very file the descriptor holds; Java streams cannot adopt a raw descriptor. A
      // FileInputStream: the applier reads its channel straight into its buffers.
      return new java.io.FileInputStream("/proc/self/fd/" + f.get());
    }
  }

  @Override
  public String toString() {
    return dir.toString();
  }

  @Override
  public void close() throws IOException {
    root.close();
  }
}
