package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Looks at a tree the way a container would: paths resolved as if the root were "/" (symlinks
 * followed inside the root only), with {@link Sys#openInRoot}. For validators of applied layers.
 */
final class InRoot {
  private InRoot() {}

  /** The inode at {@code path} in the root, following symlinks (in the root); null if none. */
  static Stat stat(Path root, String path) throws IOException {
    return open(root, path, Sys.O_PATH);
  }

  /** The inode at {@code path} in the root, the last component not followed; null if none. */
  static Stat lstat(Path root, String path) throws IOException {
    return open(root, path, Sys.O_PATH | Sys.O_NOFOLLOW);
  }

  private static Stat open(Path root, String path, int flags) throws IOException {
    try (Fd r = Sys.openDirectory(root.toString())) {
      int fd;
      try {
        fd = Sys.openInRoot(r.get(), Names.bytes(path), flags, 0);
      } catch (IOException e) {
        Errno errno = NativeFailure.errnoOf(e);
        if (errno == Errno.ENOENT || errno == Errno.ENOTDIR) {
          return null;
        }
        throw e;
      }
      try (Fd f = new Fd(fd)) {
        return Sys.fstat(f.get());
      }
    }
  }

  /** The content of the regular file at {@code path} in the root (symlinks followed in it). */
  static byte[] read(Path root, String path) throws IOException {
    try (Fd r = Sys.openDirectory(root.toString());
        Fd f = new Fd(Sys.openInRoot(r.get(), Names.bytes(path), Sys.O_RDONLY, 0))) {
      byte[] out = new byte[0];
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(65536);
      while (true) {
        buf.clear();
        int n = Sys.read(f.get(), buf);
        if (n <= 0) {
          return out;
        }
        buf.flip();
        byte[] chunk = new byte[n];
        buf.get(chunk);
        byte[] joined = java.util.Arrays.copyOf(out, out.length + n);
        System.arraycopy(chunk, 0, joined, out.length, n);
        out = joined;
      }
    }
  }

  static String readString(Path root, String path) throws IOException {
    return new String(read(root, path), StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- assertions

  static void assertSameFile(Path root, String a, String b) throws IOException {
    Stat sa = stat(root, a);
    Stat sb = stat(root, b);
    assertTrue(sa != null, a + " does not exist in the root");
    assertTrue(sb != null, b + " does not exist in the root");
    assertEquals(
        sb.dev() + ":" + sb.ino(),
        sa.dev() + ":" + sa.ino(),
        a + " and " + b + " are not one file");
  }

  static void assertNotSameFile(Path root, String a, String b) throws IOException {
    Stat sa = stat(root, a);
    Stat sb = stat(root, b);
    assertTrue(sa != null, a + " does not exist in the root");
    assertTrue(sb != null, b + " does not exist in the root");
    assertNotEquals(sa.ino(), sb.ino(), a + " and " + b + " are one file");
  }

  /** Both are symlinks, one inode (a hardlink to a symlink). */
  static void assertSameSymlink(Path root, String a, String b) throws IOException {
    Stat sa = lstat(root, a);
    Stat sb = lstat(root, b);
    assertTrue(sa != null && sa.isSymlink(), a + " is not a symlink");
    assertTrue(sb != null && sb.isSymlink(), b + " is not a symlink");
    assertEquals(sb.ino(), sa.ino(), a + " and " + b + " are not one symlink");
  }

  static void assertContent(Path root, String path, String content) throws IOException {
    assertArrayEquals(
        content.getBytes(StandardCharsets.UTF_8), read(root, path), "the content of " + path);
  }

  static void assertAbsent(Path root, String path) throws IOException {
    Stat st = lstat(root, path);
    if (st != null) {
      fail(path + " exists in the root (mode " + Integer.toOctalString(st.mode()) + ")");
    }
  }

  static void assertSymlink(Path root, String path, String target) throws IOException {
    Stat st = lstat(root, path);
    assertTrue(st != null && st.isSymlink(), path + " is not a symlink");
    try (Fd r = Sys.openDirectory(root.toString())) {
      byte[] t = Sys.readlinkat(r.get(), Names.bytes(path));
      assertEquals(target, new String(t, StandardCharsets.UTF_8), "the target of " + path);
    }
  }

  static void assertDirectory(Path root, String path) throws IOException {
    Stat st = lstat(root, path);
    assertTrue(st != null && st.isDirectory(), path + " is not a directory");
  }

  static void assertFile(Path root, String path) throws IOException {
    Stat st = lstat(root, path);
    assertTrue(st != null && st.isRegular(), path + " is not a regular file");
  }
}
