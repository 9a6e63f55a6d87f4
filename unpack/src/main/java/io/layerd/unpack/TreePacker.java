package io.layerd.unpack;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.unpack.internal.TarWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes chosen paths of a tree as a layer tar: each path's entry as it is on disk (owner, mode,
 * xattrs, link target, device numbers, content), hardlinks within the tar as hardlink entries, and
 * deletions as {@code .wh.NAME} whiteouts. Times are truncated to seconds and atimes dropped, as
 * moby does, so that the same tree gives the same tar. Paths are resolved in the root; symlinks are
 * never followed.
 */
public final class TreePacker {
  private TreePacker() {}

  /** One path to pack, relative to the root ("etc/passwd"); {@code deleted} writes a whiteout. */
  public record Item(byte[] path, boolean deleted) {}

  /** Writes the items in the order given (parents before children) and the end of the archive. */
  public static long pack(int rootFd, List<Item> items, OutputStream out) throws IOException {
    return pack(rootFd, items, out, OwnerMapper.identity());
  }

  /**
   * As {@link #pack(int, List, OutputStream)}, with each owner stated as {@code owners} maps it
   * back ({@link OwnerMapper#tarUid}): the ids the layer had before ApplyDiff shifted them. A file
   * whose owner maps back to no id fails the pack, naming the file, the id and the remedy.
   */
  public static long pack(int rootFd, List<Item> items, OutputStream out, OwnerMapper owners)
      throws IOException {
    TarWriter w = new TarWriter(out);
    Map<String, byte[]> seenInodes = new HashMap<>();
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 16);
    for (Item item : items) {
      List<byte[]> comps = LayerApplier.clean(item.path());
      if (comps.isEmpty()) {
        continue;
      }
      byte[] leaf = comps.get(comps.size() - 1);
      byte[] parent = Names.join(comps.subList(0, comps.size() - 1));
      if (item.deleted()) {
        byte[] wh = new byte[4 + leaf.length];
        System.arraycopy(Names.bytes(".wh."), 0, wh, 0, 4);
        System.arraycopy(leaf, 0, wh, 4, leaf.length);
        byte[] name = parent.length == 0 ? wh : join(parent, wh);
        w.writeHeader(
            new TarWriter.Header(
                TarEntry.Type.FILE, name, new byte[0], 0, 0, 0, 0, 0, 0, 0, Map.of()));
        continue;
      }
      try (Fd dir = new Fd(openParent(rootFd, parent))) {
        Stat st;
        try {
          st = Sys.fstatat(dir.get(), leaf, Sys.AT_SYMLINK_NOFOLLOW);
        } catch (IOException e) {
          if (NativeFailure.errnoOf(e) == Errno.ENOENT) {
            continue; // removed since the changes were computed
          }
          throw e;
        }
        byte[] name = Names.join(comps);
        Map<String, byte[]> xattrs = new LinkedHashMap<>();
        for (String x : Sys.llistxattrAt(dir.get(), leaf)) {
          byte[] v = Sys.lgetxattrAt(dir.get(), leaf, x);
          if (v != null) {
            xattrs.put(x, v);
          }
        }
        if (!st.isDirectory() && st.nlink() > 1) {
          byte[] first = seenInodes.get(st.inodeKey());
          if (first != null) {
            w.writeHeader(header(owners, TarEntry.Type.HARDLINK, name, first, st, 0, Map.of()));
            continue;
          }
          seenInodes.put(st.inodeKey(), name);
        }
        switch (st.type()) {
          case Sys.S_IFDIR:
            w.writeHeader(
                header(owners, TarEntry.Type.DIRECTORY, name, new byte[0], st, 0, xattrs));
            break;
          case Sys.S_IFLNK:
            w.writeHeader(
                header(
                    owners,
                    TarEntry.Type.SYMLINK,
                    name,
                    Sys.readlinkat(dir.get(), leaf),
                    st,
                    0,
                    xattrs));
            break;
          case Sys.S_IFCHR:
            w.writeHeader(
                header(owners, TarEntry.Type.CHAR_DEVICE, name, new byte[0], st, 0, xattrs));
            break;
          case Sys.S_IFBLK:
            w.writeHeader(
                header(owners, TarEntry.Type.BLOCK_DEVICE, name, new byte[0], st, 0, xattrs));
            break;
          case Sys.S_IFIFO:
            w.writeHeader(header(owners, TarEntry.Type.FIFO, name, new byte[0], st, 0, xattrs));
            break;
          case Sys.S_IFREG:
            try (Fd f = new Fd(Sys.openat(dir.get(), leaf, Sys.O_RDONLY | Sys.O_NOFOLLOW, 0))) {
              w.writeHeader(
                  header(owners, TarEntry.Type.FILE, name, new byte[0], st, st.size(), xattrs));
              w.writeData(new FdInput(f.get(), buf));
            }
            break;
          default:
            break; // sockets are not layer content
        }
      }
    }
    w.finish();
    return w.written();
  }

  private static TarWriter.Header header(
      OwnerMapper owners,
      TarEntry.Type type,
      byte[] name,
      byte[] link,
      Stat st,
      long size,
      Map<String, byte[]> x)
      throws IOException {
    return new TarWriter.Header(
        type,
        name,
        link,
        st.permissions(),
        tarId("uid", owners.tarUid(st.uid()), st.uid(), name),
        tarId("gid", owners.tarGid(st.gid()), st.gid(), name),
        size,
        st.mtimeSec(),
        st.rdevMajor(),
        st.rdevMinor(),
        x);
  }

  /** A mapped-back id, or the failure that names the file and says what to do. */
  private static long tarId(String kind, long mapped, long onDisk, byte[] name) throws IOException {
    if (mapped >= 0) {
      return mapped;
    }
    throw new IOException(
        Names.display(name)
            + " is owned by "
            + kind
            + " "
            + onDisk
            + ", which the --userns-remap maps do not map back to any container "
            + kind
            + ", so the layer cannot state its owner: chown it (in the container) to an "
            + kind
            + " the remapping covers, then commit or save again");
  }

  private static int openParent(int rootFd, byte[] parent) throws IOException {
    if (parent.length == 0) {
      return Sys.openat(rootFd, new byte[] {'.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0);
    }
    return Sys.openInRoot(rootFd, parent, Sys.O_PATH | Sys.O_DIRECTORY, 0);
  }

  private static byte[] join(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + 1 + b.length);
    out[a.length] = '/';
    System.arraycopy(b, 0, out, a.length + 1, b.length);
    return out;
  }

  /** A file descriptor read as a stream through a direct buffer. */
  private static final class FdInput extends InputStream {
    private final int fd;
    private final ByteBuffer buf;

    FdInput(int fd, ByteBuffer buf) {
      this.fd = fd;
      this.buf = buf;
      buf.clear().flip();
    }

    @Override
    public int read() throws IOException {
      byte[] b = new byte[1];
      return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (!buf.hasRemaining()) {
        buf.clear();
        int n = Sys.read(fd, buf);
        buf.flip();
        if (n <= 0) {
          return -1;
        }
      }
      int n = Math.min(len, buf.remaining());
      buf.get(b, off, n);
      return n;
    }
  }
}
