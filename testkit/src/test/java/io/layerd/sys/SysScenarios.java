package io.layerd.sys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;

/**
 * Checks of the native boundary that run both in the test JVM (as root) and in a child JVM (as the
 * test user, plain or in a user namespace): each takes a fresh scratch directory. Where the
 * privileged and unprivileged outcomes differ, {@code privileged} says which to expect.
 */
final class SysScenarios {
  private SysScenarios() {}

  static final byte[] LATIN1_NAME = {'c', 'a', 'f', (byte) 0xe9};
  static final byte[] BAD_UTF8_DIR = {'d', (byte) 0xff, (byte) 0xfe, '-', 'x'};
  static final byte[] NEWLINE_NAME = {'n', '\n', 'l', '\\'};

  // ------------------------------------------------------------------ entry points for ChildJvm

  /** In a user namespace as the test user: every check, failures collected. */
  static void inUserNamespace(String[] args) throws Exception {
    assertEquals(0, Sys.getuid(), "uid inside the namespace");
    assertEquals(0, Sys.geteuid(), "euid inside the namespace");
    runAll(false, true);
  }

  /** As the plain test user: what an unprivileged process may and may not do. */
  static void asPlainUser(String[] args) throws Exception {
    long expectedUid = Long.parseLong(args[0]);
    assertEquals(expectedUid, Sys.getuid(), "uid of the plain user");
    Path scratch = Files.createTempDirectory("layerd-sys-user-");
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      create(fd, "f", "x");
      IOException e =
          assertThrows(IOException.class, () -> Sys.fchownat(fd, b("f"), 0, 0, 0), "chown to 0");
      assertErrno(e, Errno.EPERM, "fchownat");
      e =
          assertThrows(
              IOException.class,
              () -> Sys.mknodat(fd, b("null"), Sys.S_IFCHR | 0644, 1, 3),
              "mknod 1/3");
      assertErrno(e, Errno.EPERM, "mknodat");
      e =
          assertThrows(
              IOException.class,
              () -> Sys.lsetxattrAt(fd, b("f"), "trusted.layerd", b("1"), 0),
              "trusted xattr");
      assertErrno(e, Errno.EPERM, "lsetxattr(trusted.layerd)");
      Sys.lsetxattrAt(fd, b("f"), "user.layerd", b("1"), 0);
      assertArrayEquals(b("1"), Sys.lgetxattrAt(fd, b("f"), "user.layerd"));
      nonUtf8Names(scratch.resolve(mkdir(scratch, "names")));
    } finally {
      deleteTree(scratch);
    }
  }

  /**
   * Runs every check in its own scratch directory, reports all failures together (each with its
   * stack trace, as suppressed exceptions).
   */
  static void runAll(boolean privileged, boolean inNamespace) throws Exception {
    Path scratch = Files.createTempDirectory("layerd-sys-");
    Map<String, Executable> checks = new LinkedHashMap<>();
    checks.put("nonUtf8Names", () -> nonUtf8Names(sub(scratch, "names")));
    long linkOwner = privileged ? 1234 : 1000;
    checks.put(
        "symlinkNotFollowed",
        () -> symlinkNotFollowed(sub(scratch, "links"), privileged, linkOwner, linkOwner));
    checks.put("openInRoot", () -> openInRoot(sub(scratch, "inroot"), false));
    checks.put("openInRootByWalk", () -> openInRoot(sub(scratch, "walk"), true));
    checks.put("errnoTranslation", () -> errnoTranslation(sub(scratch, "errno")));
    checks.put("renameat2", () -> renameat2(sub(scratch, "rename")));
    checks.put("devices", () -> devices(sub(scratch, "dev"), privileged));
    checks.put("chown", () -> chown(sub(scratch, "chown"), privileged, inNamespace));
    checks.put("xattrs", () -> xattrs(sub(scratch, "xattr"), privileged));
    checks.put("statfsAndUname", SysScenarios::statfsAndUname);
    List<String> failed = new ArrayList<>();
    AssertionError all = new AssertionError("native-boundary checks failed");
    try {
      for (Map.Entry<String, Executable> c : checks.entrySet()) {
        try {
          c.getValue().execute();
        } catch (Throwable t) {
          failed.add(c.getKey() + ": " + t);
          all.addSuppressed(t);
        }
      }
    } finally {
      deleteTree(scratch);
    }
    if (!failed.isEmpty()) {
      AssertionError e =
          new AssertionError(
              failed.size()
                  + " of "
                  + checks.size()
                  + " checks failed:\n  "
                  + String.join("\n  ", failed));
      for (Throwable t : all.getSuppressed()) {
        e.addSuppressed(t);
      }
      throw e;
    }
  }

  private static Path sub(Path scratch, String name) throws IOException {
    return Files.createDirectory(scratch.resolve(name));
  }

  // ------------------------------------------------------------------ the checks

  /** Names that are not UTF-8 go through mkdirat/openat and come back byte-exact from getdents. */
  static void nonUtf8Names(Path scratch) throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      Sys.mkdirat(fd, BAD_UTF8_DIR, 0755);
      int f = Sys.openat(fd, LATIN1_NAME, Sys.O_CREAT | Sys.O_EXCL | Sys.O_WRONLY, 0644);
      try {
        write(f, "hello");
      } finally {
        Sys.close(f);
      }
      Sys.close(Sys.openat(fd, NEWLINE_NAME, Sys.O_CREAT | Sys.O_EXCL | Sys.O_WRONLY, 0600));
      try (Fd inner =
          new Fd(
              Sys.openat(fd, BAD_UTF8_DIR, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
        Sys.close(Sys.openat(inner.get(), LATIN1_NAME, Sys.O_CREAT | Sys.O_WRONLY, 0644));
        List<DirEntry> innerNames = Sys.readDirectory(inner.get());
        assertEquals(1, innerNames.size(), "entries in the non-UTF-8 directory");
        assertArrayEquals(LATIN1_NAME, innerNames.get(0).name());
      }

      List<DirEntry> names = Sys.readDirectory(fd);
      assertEquals(3, names.size(), () -> "entries: " + display(names));
      DirEntry file = find(names, LATIN1_NAME);
      DirEntry d = find(names, BAD_UTF8_DIR);
      DirEntry nl = find(names, NEWLINE_NAME);
      assertEquals(Sys.DT_REG, file.type());
      assertEquals(Sys.DT_DIR, d.type());
      assertEquals(Sys.DT_REG, nl.type());
      assertEquals("caf\\xe9", file.displayName());
      assertEquals("d\\xff\\xfe-x", d.displayName());
      assertEquals("n\\x0al\\\\", nl.displayName());

      Stat st = Sys.fstatat(fd, LATIN1_NAME, Sys.AT_SYMLINK_NOFOLLOW);
      assertTrue(st.isRegular());
      assertEquals(5, st.size());
      assertEquals(file.ino(), st.ino(), "getdents and statx agree on the inode");
      // java.nio sees the same three entries (with lossily decoded names).
      try (Stream<Path> s = Files.list(scratch)) {
        assertEquals(3, s.count());
      }
    }
  }

  /** NOFOLLOW calls change a symlink itself, never its target. */
  static void symlinkNotFollowed(Path scratch, boolean privileged, long uid, long gid)
      throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      create(fd, "target", "content");
      Sys.symlinkat(b("target"), fd, b("link"));
      Stat targetBefore = Sys.fstatat(fd, b("target"), Sys.AT_SYMLINK_NOFOLLOW);

      Sys.fchownat(fd, b("link"), uid, gid, Sys.AT_SYMLINK_NOFOLLOW);
      Stat link = Sys.fstatat(fd, b("link"), Sys.AT_SYMLINK_NOFOLLOW);
      assertTrue(link.isSymlink());
      assertEquals(uid, link.uid(), "the link's owner changed");
      assertEquals(gid, link.gid(), "the link's group changed");
      Stat target = Sys.fstatat(fd, b("target"), Sys.AT_SYMLINK_NOFOLLOW);
      assertEquals(targetBefore.uid(), target.uid(), "the target's owner is untouched");
      assertEquals(targetBefore.gid(), target.gid(), "the target's group is untouched");

      Sys.utimensat(
          fd, b("link"), 0, Sys.UTIME_OMIT, 1_000_000_000L, 500_000_000L, Sys.AT_SYMLINK_NOFOLLOW);
      link = Sys.fstatat(fd, b("link"), Sys.AT_SYMLINK_NOFOLLOW);
      assertEquals(1_000_000_000L, link.mtimeSec());
      assertEquals(500_000_000, link.mtimeNsec());
      target = Sys.fstatat(fd, b("target"), Sys.AT_SYMLINK_NOFOLLOW);
      assertEquals(targetBefore.mtimeSec(), target.mtimeSec(), "the target's mtime is untouched");
      assertEquals(targetBefore.mtimeNsec(), target.mtimeNsec());

      IOException e =
          assertThrows(
              IOException.class, () -> Sys.openat(fd, b("link"), Sys.O_RDONLY | Sys.O_NOFOLLOW, 0));
      assertErrno(e, Errno.ELOOP, "openat");
      assertTrue(e.getMessage().contains("link"), e.getMessage());

      // user.* xattrs are refused on symlinks (EPERM): following the link would have succeeded.
      e =
          assertThrows(
              IOException.class, () -> Sys.lsetxattrAt(fd, b("link"), "user.layerd", b("v"), 0));
      assertErrno(e, Errno.EPERM, "lsetxattr(user.layerd)");
      assertNull(Sys.lgetxattrAt(fd, b("target"), "user.layerd"), "the target got no xattr");
      if (privileged) {
        Sys.lsetxattrAt(fd, b("link"), "trusted.layerd", b("on-the-link"), 0);
        assertArrayEquals(b("on-the-link"), Sys.lgetxattrAt(fd, b("link"), "trusted.layerd"));
        assertNull(Sys.lgetxattrAt(fd, b("target"), "trusted.layerd"), "the target got no xattr");
        assertTrue(Sys.llistxattrAt(fd, b("link")).contains("trusted.layerd"));
        assertFalse(Sys.llistxattrAt(fd, b("target")).contains("trusted.layerd"));
      }
    }
  }

  /** The opener under test: openInRoot (openat2 where the kernel has it) or the walk. */
  private interface Opener {
    int open(int rootFd, byte[] path, int flags, int mode) throws IOException;
  }

  /**
   * Hostile symlinks inside a root never reach outside it: absolute links, ../ chains, .. at the
   * root, loops. A marker file outside the root says "OUTSIDE"; its namesake inside says "INSIDE".
   */
  static void openInRoot(Path scratch, boolean byWalk) throws IOException {
    Opener opener = byWalk ? Sys::openInRootByWalk : Sys::openInRoot;
    if (!byWalk
        && Sys.uname().release().matches("^([6-9]|[1-9][0-9])\\..*|^5\\.([6-9]|[1-9][0-9]).*")) {
      assertTrue(Sys.hasOpenat2(), "a 5.6+ kernel has openat2, so openInRoot uses it");
    }
    Files.writeString(scratch.resolve("marker"), "OUTSIDE", StandardCharsets.UTF_8);
    Path root = Files.createDirectory(scratch.resolve("root"));
    try (Fd r = Sys.openDirectory(root.toString())) {
      int fd = r.get();
      create(fd, "marker", "INSIDE");
      Sys.mkdirat(fd, b("etc"), 0755);
      Sys.mkdirat(fd, b("a"), 0755);
      Sys.mkdirat(fd, b("a/b"), 0755);
      create(fd, "etc/passwd", "inside-passwd");
      Sys.symlinkat(b("/etc"), fd, b("abs-etc"));
      Sys.symlinkat(b(scratch.resolve("marker").toString()), fd, b("abs-marker"));
      Sys.symlinkat(b("../marker"), fd, b("up"));
      Sys.symlinkat(b("../../../../../../../marker"), fd, b("a/b/up-many"));
      Sys.symlinkat(b("../a/b/up-many"), fd, b("a/chain"));
      Sys.symlinkat(b("a/chain"), fd, b("chain-start"));
      Sys.symlinkat(b(".."), fd, b("dotdot"));
      Sys.symlinkat(b("/a/b/../../../etc/../marker"), fd, b("abs-updown"));
      Sys.symlinkat(b("loop2"), fd, b("loop1"));
      Sys.symlinkat(b("loop1"), fd, b("loop2"));
      Sys.symlinkat(b("self"), fd, b("self"));
      Sys.symlinkat(b(scratch.toString()), fd, b("abs-scratch"));
      String createdName = "layerd-created-" + ProcessHandle.current().pid();
      Sys.symlinkat(b("/" + createdName), fd, b("dangling"));

      assertOpens(opener, fd, "abs-etc/passwd", "inside-passwd");
      for (String p :
          List.of(
              "marker",
              "up",
              "a/b/up-many",
              "a/chain",
              "chain-start",
              "dotdot/marker",
              "dotdot/dotdot/up",
              "abs-updown",
              "../marker",
              "../../../marker",
              "/../marker",
              "/marker",
              "a/../../marker",
              "a/b/../../../../marker")) {
        assertOpens(opener, fd, p, "INSIDE");
      }

      // An absolute link to the real marker resolves inside the root, where there is no such path.
      IOException e =
          assertThrows(IOException.class, () -> opener.open(fd, b("abs-marker"), Sys.O_RDONLY, 0));
      assertInstanceOf(NoSuchFileException.class, e, e.toString());
      e =
          assertThrows(
              IOException.class, () -> opener.open(fd, b("abs-scratch/marker"), Sys.O_RDONLY, 0));
      assertInstanceOf(NoSuchFileException.class, e, e.toString());

      // Loops.
      for (String loop : List.of("loop1", "self", "a/../loop2")) {
        e = assertThrows(IOException.class, () -> opener.open(fd, b(loop), Sys.O_RDONLY, 0), loop);
        assertErrno(e, Errno.ELOOP, null);
      }

      // O_NOFOLLOW on the last component opens the link itself (O_PATH) or refuses it.
      int link = opener.open(fd, b("up"), Sys.O_PATH | Sys.O_NOFOLLOW, 0);
      try {
        assertTrue(Sys.fstat(link).isSymlink(), "O_PATH|O_NOFOLLOW gave the link");
      } finally {
        Sys.close(link);
      }
      e =
          assertThrows(
              IOException.class, () -> opener.open(fd, b("up"), Sys.O_RDONLY | Sys.O_NOFOLLOW, 0));
      assertErrno(e, Errno.ELOOP, null);

      // Creating through links: never outside.
      e =
          assertThrows(
              IOException.class,
              () ->
                  opener.open(
                      fd, b("abs-scratch/created"), Sys.O_CREAT | Sys.O_WRONLY | Sys.O_EXCL, 0644));
      assertInstanceOf(NoSuchFileException.class, e, e.toString());
      assertFalse(Files.exists(scratch.resolve("created")), "nothing created outside the root");
      int created = opener.open(fd, b("dangling"), Sys.O_CREAT | Sys.O_WRONLY, 0644);
      Sys.close(created);
      assertFalse(
          Files.exists(Path.of("/" + createdName)),
          "a dangling absolute link created at the host /");
      assertTrue(Files.exists(root.resolve(createdName)), "created inside the root instead");
      int viaDotDot =
          opener.open(fd, b("../../made-by-dotdot"), Sys.O_CREAT | Sys.O_WRONLY | Sys.O_EXCL, 0644);
      Sys.close(viaDotDot);
      assertTrue(Files.exists(root.resolve("made-by-dotdot")));
      assertFalse(Files.exists(scratch.resolve("made-by-dotdot")));
      assertFalse(Files.exists(scratch.getParent().resolve("made-by-dotdot")));

      // A trailing slash demands a directory; an empty path names nothing.
      e = assertThrows(IOException.class, () -> opener.open(fd, b("marker/"), Sys.O_RDONLY, 0));
      assertErrno(e, Errno.ENOTDIR, null);
      e =
          assertThrows(
              IOException.class,
              () -> opener.open(fd, b("new-by-slash/"), Sys.O_CREAT | Sys.O_WRONLY, 0644));
      assertErrno(e, Errno.EISDIR, null);
      assertFalse(Files.exists(root.resolve("new-by-slash")), "nothing created for 'name/'");
      e = assertThrows(IOException.class, () -> opener.open(fd, b(""), Sys.O_RDONLY, 0));
      assertErrno(e, Errno.ENOENT, null);
      int slash = opener.open(fd, b("etc/"), Sys.O_RDONLY, 0);
      try {
        assertTrue(Sys.fstat(slash).isDirectory());
      } finally {
        Sys.close(slash);
      }

      // The root itself.
      int self = opener.open(fd, b("."), Sys.O_RDONLY | Sys.O_DIRECTORY, 0);
      try {
        assertEquals(Sys.fstat(fd).ino(), Sys.fstat(self).ino());
      } finally {
        Sys.close(self);
      }
      int above = opener.open(fd, b(".."), Sys.O_RDONLY | Sys.O_DIRECTORY, 0);
      try {
        assertEquals(Sys.fstat(fd).ino(), Sys.fstat(above).ino(), ".. of the root is the root");
      } finally {
        Sys.close(above);
      }
    }
    assertEquals("OUTSIDE", Files.readString(scratch.resolve("marker"), StandardCharsets.UTF_8));
  }

  private static void assertOpens(Opener opener, int rootFd, String path, String content)
      throws IOException {
    int fd;
    try {
      fd = opener.open(rootFd, b(path), Sys.O_RDONLY, 0);
    } catch (IOException e) {
      throw new AssertionError("opening '" + path + "' in the root failed: " + e, e);
    }
    try {
      assertEquals(content, read(fd), "content of '" + path + "' opened in the root");
    } finally {
      Sys.close(fd);
    }
  }

  /** errno becomes the right java.nio.file exception, carrying call, errno and path. */
  static void errnoTranslation(Path scratch) throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      IOException e = assertThrows(IOException.class, () -> Sys.unlinkat(fd, b("nope"), 0));
      assertInstanceOf(NoSuchFileException.class, e);
      assertErrno(e, Errno.ENOENT, "unlinkat");
      String real = scratch.toRealPath().toString();
      assertEquals(real + "/nope", ((NoSuchFileException) e).getFile(), e.getMessage());
      assertTrue(e.getMessage().contains("unlinkat"), e.getMessage());
      assertTrue(e.getMessage().contains("ENOENT"), e.getMessage());

      Sys.mkdirat(fd, b("d"), 0755);
      e = assertThrows(IOException.class, () -> Sys.mkdirat(fd, b("d"), 0755));
      assertInstanceOf(FileAlreadyExistsException.class, e);
      assertErrno(e, Errno.EEXIST, "mkdirat");
      assertEquals(real + "/d", ((FileAlreadyExistsException) e).getFile());

      create(fd, "d/f", "x");
      e = assertThrows(IOException.class, () -> Sys.unlinkat(fd, b("d"), Sys.AT_REMOVEDIR));
      assertInstanceOf(DirectoryNotEmptyException.class, e);
      assertErrno(e, Errno.ENOTEMPTY, "unlinkat");
      assertEquals(real + "/d", ((DirectoryNotEmptyException) e).getFile());
      assertTrue(e.getMessage().contains("unlinkat"), e.getMessage());

      e = assertThrows(IOException.class, () -> Sys.openat(fd, b("d/f/x"), Sys.O_RDONLY, 0));
      assertInstanceOf(NotDirectoryException.class, e);
      assertErrno(e, Errno.ENOTDIR, "openat");

      e = assertThrows(IOException.class, () -> Sys.unlinkat(fd, b("d/f"), Sys.AT_REMOVEDIR));
      assertErrno(e, Errno.ENOTDIR, "unlinkat");
      e = assertThrows(IOException.class, () -> Sys.readlinkat(fd, b("d/f")));
      assertErrno(e, Errno.EINVAL, "readlinkat");
      assertEquals(SysException.class, e.getClass(), "EINVAL has no closer java.nio type");
    }
  }

  /** renameat2 with RENAME_NOREPLACE and RENAME_EXCHANGE. */
  static void renameat2(Path scratch) throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      create(fd, "a", "A");
      create(fd, "b", "B");
      long inoA = Sys.fstatat(fd, b("a"), Sys.AT_SYMLINK_NOFOLLOW).ino();
      long inoB = Sys.fstatat(fd, b("b"), Sys.AT_SYMLINK_NOFOLLOW).ino();

      IOException e =
          assertThrows(
              IOException.class, () -> Sys.renameat2(fd, b("a"), fd, b("b"), Sys.RENAME_NOREPLACE));
      assertInstanceOf(FileAlreadyExistsException.class, e);
      assertErrno(e, Errno.EEXIST, "renameat2");
      assertEquals("A", readFile(fd, "a"));
      assertEquals("B", readFile(fd, "b"));

      Sys.renameat2(fd, b("a"), fd, b("b"), Sys.RENAME_EXCHANGE);
      assertEquals("B", readFile(fd, "a"));
      assertEquals("A", readFile(fd, "b"));
      assertEquals(inoB, Sys.fstatat(fd, b("a"), Sys.AT_SYMLINK_NOFOLLOW).ino());
      assertEquals(inoA, Sys.fstatat(fd, b("b"), Sys.AT_SYMLINK_NOFOLLOW).ino());

      Sys.renameat2(fd, b("a"), fd, b("c"), Sys.RENAME_NOREPLACE);
      assertEquals("B", readFile(fd, "c"));
      e = assertThrows(IOException.class, () -> Sys.fstatat(fd, b("a"), Sys.AT_SYMLINK_NOFOLLOW));
      assertInstanceOf(NoSuchFileException.class, e);

      e =
          assertThrows(
              IOException.class,
              () -> Sys.renameat2(fd, b("c"), fd, b("gone"), Sys.RENAME_EXCHANGE));
      assertInstanceOf(NoSuchFileException.class, e);
      assertErrno(e, Errno.ENOENT, "renameat2");
    }
  }

  /** mknodat: fifos and whiteout devices (0/0) everywhere, real devices only with privilege. */
  static void devices(Path scratch, boolean privileged) throws IOException {
    int umask = Sys.umask();
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      Sys.mknodat(fd, b("fifo"), Sys.S_IFIFO | 0644, 0, 0);
      Stat fifo = Sys.fstatat(fd, b("fifo"), Sys.AT_SYMLINK_NOFOLLOW);
      assertTrue(fifo.isFifo());
      assertEquals(0644 & ~umask, fifo.permissions());

      Sys.mknodat(fd, b("whiteout"), Sys.S_IFCHR, 0, 0);
      assertTrue(Sys.fstatat(fd, b("whiteout"), Sys.AT_SYMLINK_NOFOLLOW).isWhiteoutDevice());

      if (privileged) {
        Sys.mknodat(fd, b("null"), Sys.S_IFCHR | 0666, 1, 3);
        Stat n = Sys.fstatat(fd, b("null"), Sys.AT_SYMLINK_NOFOLLOW);
        assertTrue(n.isCharDevice());
        assertEquals(1, n.rdevMajor());
        assertEquals(3, n.rdevMinor());
        Sys.mknodat(fd, b("loop"), Sys.S_IFBLK | 0660, 7, 1);
        Stat l = Sys.fstatat(fd, b("loop"), Sys.AT_SYMLINK_NOFOLLOW);
        assertTrue(l.isBlockDevice());
        assertEquals(7, l.rdevMajor());
        assertEquals(1, l.rdevMinor());
        Sys.mknodat(fd, b("big"), Sys.S_IFCHR | 0600, 4095, 1_048_575);
        Stat big = Sys.fstatat(fd, b("big"), Sys.AT_SYMLINK_NOFOLLOW);
        assertEquals(4095, big.rdevMajor(), "major beyond 8 bits survives makedev");
        assertEquals(1_048_575, big.rdevMinor(), "minor beyond 8 bits survives makedev");
      } else {
        IOException e =
            assertThrows(
                IOException.class, () -> Sys.mknodat(fd, b("null"), Sys.S_IFCHR | 0666, 1, 3));
        assertInstanceOf(AccessDeniedException.class, e);
        assertErrno(e, Errno.EPERM, "mknodat");
        e =
            assertThrows(
                IOException.class, () -> Sys.mknodat(fd, b("loop"), Sys.S_IFBLK | 0660, 7, 1));
        assertErrno(e, Errno.EPERM, "mknodat");
      }
    }
  }

  /**
   * chown: in a user namespace, an id outside the map is EINVAL (the famous "lchown ... invalid
   * argument") and a mapped id works; as root anything works.
   */
  static void chown(Path scratch, boolean privileged, boolean inNamespace) throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      create(fd, "f", "x");
      Sys.symlinkat(b("f"), fd, b("l"));
      Sys.fchownat(fd, b("f"), 1000, 1000, 0);
      Stat st = Sys.fstatat(fd, b("f"), Sys.AT_SYMLINK_NOFOLLOW);
      assertEquals(1000, st.uid());
      assertEquals(1000, st.gid());
      if (inNamespace) {
        IOException e =
            assertThrows(IOException.class, () -> Sys.fchownat(fd, b("f"), 70000, 70000, 0));
        assertErrno(e, Errno.EINVAL, "fchownat");
        assertEquals(SysException.class, e.getClass());
        assertTrue(e.getMessage().contains("Invalid argument"), e.getMessage());
        e =
            assertThrows(
                IOException.class,
                () -> Sys.fchownat(fd, b("l"), 70000, 0, Sys.AT_SYMLINK_NOFOLLOW));
        assertErrno(e, Errno.EINVAL, "fchownat");
        int f = Sys.openat(fd, b("f"), Sys.O_RDONLY, 0);
        try {
          e = assertThrows(IOException.class, () -> Sys.fchown(f, 0, 70000));
          assertErrno(e, Errno.EINVAL, "fchown");
        } finally {
          Sys.close(f);
        }
        st = Sys.fstatat(fd, b("f"), Sys.AT_SYMLINK_NOFOLLOW);
        assertEquals(1000, st.uid(), "the failed chown changed nothing");
      } else if (privileged) {
        Sys.fchownat(fd, b("f"), 70000, 185992, 0);
        st = Sys.fstatat(fd, b("f"), Sys.AT_SYMLINK_NOFOLLOW);
        assertEquals(70000, st.uid());
        assertEquals(185992, st.gid());
        long huge = (1L << 31) + 5;
        int f = Sys.openat(fd, b("f"), Sys.O_RDONLY, 0);
        try {
          Sys.fchown(f, huge, huge);
        } finally {
          Sys.close(f);
        }
        st = Sys.fstatat(fd, b("f"), Sys.AT_SYMLINK_NOFOLLOW);
        assertEquals(huge, st.uid(), "ids above 2^31 are unsigned");
        assertEquals(huge, st.gid());
        Sys.lchown(b(scratch.resolve("l").toString()), 4321, 4321);
        assertEquals(4321, Sys.fstatat(fd, b("l"), Sys.AT_SYMLINK_NOFOLLOW).uid());
        assertEquals(huge, Sys.fstatat(fd, b("f"), Sys.AT_SYMLINK_NOFOLLOW).uid());
      }
    }
  }

  /** user.* xattrs work everywhere; trusted.* needs real root (EPERM in a namespace). */
  static void xattrs(Path scratch, boolean privileged) throws IOException {
    try (Fd dir = Sys.openDirectory(scratch.toString())) {
      int fd = dir.get();
      create(fd, "f", "x");
      byte[] binary = {0, 1, (byte) 0xff, 0x7f};
      Sys.lsetxattrAt(fd, b("f"), "user.layerd.text", b("value"), 0);
      Sys.lsetxattrAt(fd, b("f"), "user.layerd.binary", binary, 0);
      assertArrayEquals(b("value"), Sys.lgetxattrAt(fd, b("f"), "user.layerd.text"));
      assertArrayEquals(binary, Sys.lgetxattrAt(fd, b("f"), "user.layerd.binary"));
      assertNull(Sys.lgetxattrAt(fd, b("f"), "user.absent"));
      List<String> names = Sys.llistxattrAt(fd, b("f"));
      assertTrue(
          names.containsAll(List.of("user.layerd.text", "user.layerd.binary")), names.toString());
      IOException e =
          assertThrows(
              IOException.class,
              () -> Sys.lsetxattrAt(fd, b("f"), "user.layerd.text", b("again"), Sys.XATTR_CREATE));
      assertInstanceOf(FileAlreadyExistsException.class, e);
      Sys.lremovexattrAt(fd, b("f"), "user.layerd.text");
      assertNull(Sys.lgetxattrAt(fd, b("f"), "user.layerd.text"));

      int f = Sys.openat(fd, b("f"), Sys.O_RDONLY, 0);
      try {
        Sys.fsetxattr(f, "user.layerd.fd", b("via-fd"), 0);
        assertArrayEquals(b("via-fd"), Sys.fgetxattr(f, "user.layerd.fd"));
        assertTrue(Sys.flistxattr(f).contains("user.layerd.fd"));
      } finally {
        Sys.close(f);
      }

      if (privileged) {
        Sys.lsetxattrAt(fd, b("f"), "trusted.overlay.opaque", b("y"), 0);
        assertArrayEquals(b("y"), Sys.lgetxattrAt(fd, b("f"), "trusted.overlay.opaque"));
      } else {
        e =
            assertThrows(
                IOException.class,
                () -> Sys.lsetxattrAt(fd, b("f"), "trusted.overlay.opaque", b("y"), 0));
        assertInstanceOf(AccessDeniedException.class, e);
        assertErrno(e, Errno.EPERM, "lsetxattr(trusted.overlay.opaque)");
      }
    }
  }

  /** statfs of /dev/shm is tmpfs; uname has a release. */
  static void statfsAndUname() throws IOException {
    StatFs fs = Sys.statfs("/dev/shm");
    assertEquals(StatFs.TMPFS_MAGIC, fs.type(), () -> "type " + fs.typeName());
    assertEquals("tmpfs", fs.typeName());
    assertTrue(fs.blockSize() > 0);
    Uname u = Sys.uname();
    assertEquals("Linux", u.sysname());
    assertFalse(u.release().isEmpty());
    assertEquals(
        Files.readString(Path.of("/proc/sys/kernel/osrelease"), StandardCharsets.UTF_8).strip(),
        u.release());
    IOException e = assertThrows(IOException.class, () -> Sys.statfs("/no/such/dir"));
    assertErrno(e, Errno.ENOENT, "statfs");
  }

  // ------------------------------------------------------------------ helpers

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static void assertErrno(Throwable e, Errno errno, String call) {
    if (!(e instanceof NativeFailure)) {
      fail("not a NativeFailure: " + e, e);
    }
    NativeFailure n = (NativeFailure) e;
    assertEquals(errno, n.errno(), () -> "errno of " + e);
    assertTrue(n.is(errno));
    assertEquals(errno, NativeFailure.errnoOf(e));
    if (call != null) {
      assertEquals(call, n.call(), () -> "call of " + e);
    }
  }

  private static void create(int dirFd, String name, String content) throws IOException {
    int f = Sys.openat(dirFd, b(name), Sys.O_CREAT | Sys.O_EXCL | Sys.O_WRONLY, 0644);
    try {
      write(f, content);
    } finally {
      Sys.close(f);
    }
  }

  private static void write(int fd, String content) throws IOException {
    byte[] bytes = b(content);
    ByteBuffer buf = ByteBuffer.allocateDirect(bytes.length);
    buf.put(bytes).flip();
    Sys.writeFully(fd, buf);
  }

  private static String read(int fd) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(4096);
    while (Sys.read(fd, buf) > 0) {
      if (!buf.hasRemaining()) {
        break;
      }
    }
    buf.flip();
    byte[] out = new byte[buf.remaining()];
    buf.get(out);
    return new String(out, StandardCharsets.UTF_8);
  }

  private static String readFile(int dirFd, String name) throws IOException {
    int f = Sys.openat(dirFd, b(name), Sys.O_RDONLY | Sys.O_NOFOLLOW, 0);
    try {
      return read(f);
    } finally {
      Sys.close(f);
    }
  }

  private static DirEntry find(List<DirEntry> entries, byte[] name) {
    for (DirEntry e : entries) {
      if (java.util.Arrays.equals(e.name(), name)) {
        return e;
      }
    }
    throw new AssertionError(Names.display(name) + " not among " + display(entries));
  }

  private static String display(List<DirEntry> entries) {
    List<String> out = new ArrayList<>();
    for (DirEntry e : entries) {
      out.add(e.displayName());
    }
    return out.toString();
  }

  private static String mkdir(Path parent, String name) throws IOException {
    Files.createDirectory(parent.resolve(name));
    return name;
  }

  static void deleteTree(Path root) throws IOException {
    if (root == null || !Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    // Through Sys: names may not be UTF-8, which java.nio.file cannot always delete.
    try (Fd dir =
        new Fd(
            Sys.openat(
                Sys.AT_FDCWD,
                b(root.toString()),
                Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW,
                0))) {
      deleteContents(dir.get());
    }
    Files.delete(root);
  }

  private static void deleteContents(int dirFd) throws IOException {
    for (DirEntry e : Sys.readDirectory(dirFd)) {
      Stat st = Sys.fstatat(dirFd, e.name(), Sys.AT_SYMLINK_NOFOLLOW);
      if (st.isDirectory()) {
        try (Fd child =
            new Fd(
                Sys.openat(dirFd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
          deleteContents(child.get());
        }
        Sys.unlinkat(dirFd, e.name(), Sys.AT_REMOVEDIR);
      } else {
        Sys.unlinkat(dirFd, e.name(), 0);
      }
    }
  }
}
