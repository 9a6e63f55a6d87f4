package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.DirEntry;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.TreeManifest.Difference;
import io.layerd.testkit.TreeManifest.Entry;
import io.layerd.testkit.TreeManifest.IdMapping;
import io.layerd.testkit.TreeManifest.Options;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TreeManifestTest {
  static final byte[] LATIN1 = {'c', 'a', 'f', (byte) 0xe9};
  static final long MTIME = 1_600_000_000L;
  static final int NANOS = 123;
  static final long UID = Sys.geteuid();
  static final long GID = Sys.getegid();

  @TempDir Path tmp;

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static void write(int dirFd, byte[] name, String content, int mode) throws IOException {
    int fd = Sys.openat(dirFd, name, Sys.O_CREAT | Sys.O_EXCL | Sys.O_WRONLY, mode);
    try {
      byte[] bytes = b(content);
      ByteBuffer buf = ByteBuffer.allocateDirect(Math.max(1, bytes.length));
      buf.put(bytes).flip();
      Sys.writeFully(fd, buf);
      Sys.fchmod(fd, mode); // whatever the umask
    } finally {
      Sys.close(fd);
    }
  }

  /** A tree with one of everything an unprivileged process can make; all mtimes fixed. */
  static Path buildTree(Path root) throws IOException {
    Files.createDirectories(root);
    try (Fd dir = Sys.openDirectory(root.toString())) {
      int fd = dir.get();
      for (String d : List.of("bin", "etc", "run", "tmp", "usr", "usr/bin")) {
        Sys.mkdirat(fd, b(d), 0755);
        Sys.fchmodat(fd, b(d), 0755, 0);
      }
      Sys.fchmodat(fd, b("tmp"), 01777, 0);
      write(fd, b("etc/passwd"), "root:x:0:0::/root:/bin/sh\n", 0644);
      try (Fd etc = new Fd(Sys.openat(fd, b("etc"), Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
        Sys.lsetxattrAt(etc.get(), b("passwd"), "user.mime", b("text/plain"), 0);
      }
      write(fd, b("etc/hosts"), "127.0.0.1 localhost\n", 0644);
      write(fd, b("etc/group"), "root:x:0:\n", 0644);
      write(fd, b("bin/su"), "su", 04755);
      write(fd, b("bin/busybox"), "busybox", 0755);
      Sys.linkat(fd, b("bin/busybox"), fd, b("bin/ls"), 0);
      Sys.linkat(fd, b("bin/busybox"), fd, b("usr/bin/cat"), 0);
      Sys.symlinkat(b("busybox"), fd, b("bin/sh"));
      Sys.symlinkat(b("/etc"), fd, b("abs"));
      Sys.mknodat(fd, b("run/fifo"), Sys.S_IFIFO | 0600, 0, 0);
      Sys.fchmodat(fd, b("run/fifo"), 0600, 0);
      write(fd, LATIN1, "latin", 0600);
      write(fd, b("with space"), "", 0640);
      write(fd, b("bin-x"), "x", 0700);
    }
    setTimes(root);
    return root;
  }

  /** Sets every mtime (symlinks included, directories last) to MTIME.NANOS. */
  static void setTimes(Path root) throws IOException {
    try (Fd dir = Sys.openDirectory(root.toString())) {
      setTimes(dir.get());
      Sys.futimens(dir.get(), 0, Sys.UTIME_OMIT, MTIME, NANOS);
    }
  }

  private static void setTimes(int dirFd) throws IOException {
    for (DirEntry e : Sys.readDirectory(dirFd)) {
      Stat st = Sys.fstatat(dirFd, e.name(), Sys.AT_SYMLINK_NOFOLLOW);
      if (st.isDirectory()) {
        try (Fd child =
            new Fd(
                Sys.openat(dirFd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
          setTimes(child.get());
        }
      }
      Sys.utimensat(dirFd, e.name(), 0, Sys.UTIME_OMIT, MTIME, NANOS, Sys.AT_SYMLINK_NOFOLLOW);
    }
  }

  static List<String> paths(TreeManifest m) {
    List<String> out = new ArrayList<>();
    for (Entry e : m.entries()) {
      out.add(e.path());
    }
    return out;
  }

  @Test
  void recordsEveryFieldInTreeOrder() throws IOException {
    TreeManifest m = TreeManifest.of(buildTree(tmp.resolve("t")));
    assertEquals(
        List.of(
            ".",
            "abs",
            "bin",
            "bin/busybox",
            "bin/ls",
            "bin/sh",
            "bin/su",
            "bin-x",
            "caf\\xe9",
            "etc",
            "etc/group",
            "etc/hosts",
            "etc/passwd",
            "run",
            "run/fifo",
            "tmp",
            "usr",
            "usr/bin",
            "usr/bin/cat",
            "with space"),
        paths(m),
        "a directory comes right before its contents; the symlink to /etc is not followed");

    Entry passwd = m.get("etc/passwd").orElseThrow();
    assertEquals(TreeManifest.Type.FILE, passwd.type());
    assertEquals(0644, passwd.mode());
    assertEquals(UID, passwd.uid());
    assertEquals(GID, passwd.gid());
    assertEquals(26L, passwd.size());
    assertEquals(TreeManifest.sha256(b("root:x:0:0::/root:/bin/sh\n")), passwd.sha256());
    assertEquals(Map.of("user.mime", "\"text/plain\""), passwd.xattrs());
    assertEquals(MTIME, passwd.mtimeSec());
    assertEquals(NANOS, passwd.mtimeNanos());
    assertNull(passwd.hardlink());
    assertNull(passwd.target());
    assertNull(passwd.rdevMajor());

    assertEquals(04755, m.get("bin/su").orElseThrow().mode());
    assertEquals(01777, m.get("tmp").orElseThrow().mode());
    assertEquals(MTIME, m.get(".").orElseThrow().mtimeSec(), "directories have mtimes too");
    Entry sh = m.get("bin/sh").orElseThrow();
    assertEquals(TreeManifest.Type.SYMLINK, sh.type());
    assertEquals("busybox", sh.target());
    assertNull(sh.size());
    assertEquals(MTIME, sh.mtimeSec(), "the link's own mtime");
    assertEquals("/etc", m.get("abs").orElseThrow().target());
    assertEquals(TreeManifest.Type.FIFO, m.get("run/fifo").orElseThrow().type());
    for (String p : List.of("bin/busybox", "bin/ls", "usr/bin/cat")) {
      assertEquals("bin/busybox", m.get(p).orElseThrow().hardlink(), p);
    }
    assertEquals(TreeManifest.sha256(b("latin")), m.get("caf\\xe9").orElseThrow().sha256());
    assertTrue(m.get("/etc/passwd/").isPresent(), "look-up tolerates slashes");
  }

  @Test
  void aTreeBuiltTwiceIsTheSame() throws IOException {
    TreeManifest a = TreeManifest.of(buildTree(tmp.resolve("a")));
    TreeManifest b = TreeManifest.of(buildTree(tmp.resolve("b")));
    TreeManifest.assertSame(a, b);
    assertEquals(a, b);
    assertEquals(a.toText(), b.toText());
    assertEquals(List.of(), a.diff(b));
  }

  @Test
  void diffFindsEachKindOfDifference() throws IOException {
    Path a = buildTree(tmp.resolve("a"));
    Path b = buildTree(tmp.resolve("b"));
    try (Fd dir = Sys.openDirectory(b.toString())) {
      int fd = dir.get();
      Sys.fchmodat(fd, b("etc/passwd"), 0600, 0); // mode
      Sys.unlinkat(fd, b("bin/su"), 0);
      write(fd, b("bin/su"), "su-changed", 04755); // size and sha256
      Sys.unlinkat(fd, b("bin/sh"), 0);
      Sys.symlinkat(b("toybox"), fd, b("bin/sh")); // target
      try (Fd etc = new Fd(Sys.openat(fd, b("etc"), Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
        Sys.lsetxattrAt(etc.get(), b("hosts"), "user.note", b("new"), 0); // xattr added
        Sys.lremovexattrAt(etc.get(), b("passwd"), "user.mime"); // xattr removed
      }
      Sys.unlinkat(fd, b("run/fifo"), 0);
      write(fd, b("run/fifo"), "", 0600); // type
      Sys.unlinkat(fd, b("bin-x"), 0); // only in a
      write(fd, b("new"), "", 0644); // only in b
      Sys.unlinkat(fd, b("usr/bin/cat"), 0);
      write(fd, b("usr/bin/cat"), "busybox", 0755); // a copy, no longer a hardlink
    }
    setTimes(b);
    try (Fd dir = Sys.openDirectory(b.toString())) {
      Sys.utimensat(dir.get(), b("etc/group"), 0, Sys.UTIME_OMIT, MTIME + 1, 0, 0); // mtime
    }

    List<Difference> d = TreeManifest.of(a).diff(TreeManifest.of(b));
    List<String> got = new ArrayList<>();
    for (Difference x : d) {
      got.add(x.path() + " " + x.field());
    }
    assertEquals(
        List.of(
            "bin/sh target",
            "bin/su size",
            "bin/su sha256",
            "bin-x entry",
            "etc/group mtime",
            "etc/hosts xattr user.note",
            "etc/passwd mode",
            "etc/passwd xattr user.mime",
            "new entry",
            "run/fifo type",
            "usr/bin/cat hardlink"),
        got,
        () -> "differences: " + d);

    Difference mode = d.stream().filter(x -> x.field().equals("mode")).findFirst().orElseThrow();
    assertEquals(
        "etc/passwd: mode 0644 (expected) vs 0600 (actual)", mode.describe("expected", "actual"));
    Difference only = d.stream().filter(x -> x.path().equals("new")).findFirst().orElseThrow();
    assertTrue(
        only.describe("expected", "actual").startsWith("only in actual: new file"),
        only.toString());
    Difference removed = d.stream().filter(x -> x.path().equals("bin-x")).findFirst().orElseThrow();
    assertTrue(
        removed.toString().startsWith("only in left: bin-x file mode=0700"), removed.toString());
    Difference cat =
        d.stream().filter(x -> x.path().equals("usr/bin/cat")).findFirst().orElseThrow();
    assertEquals("bin/busybox", cat.left());
    assertNull(cat.right());
  }

  @Test
  void assertSameListsDifferencesUpToALimit() {
    List<Entry> left = new ArrayList<>();
    List<Entry> right = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      left.add(Entry.file("f" + i, b("a"), 0644, 0, 0));
      right.add(Entry.file("f" + i, b("a"), 0600, 0, 0));
    }
    AssertionError e =
        assertThrows(
            AssertionError.class,
            () ->
                TreeManifest.assertSame(
                    TreeManifest.ofEntries(left), TreeManifest.ofEntries(right)));
    String msg = e.getMessage();
    assertTrue(msg.startsWith("the trees differ in 60 places:"), msg);
    assertTrue(msg.contains("f0: mode 0644 (expected) vs 0600 (actual)"), msg);
    assertTrue(msg.contains("... and 10 more"), msg);
    assertEquals(50, msg.lines().filter(l -> l.contains("(expected) vs")).count());
    assertTrue(msg.contains("actual manifest:\nf0 file mode=0600"), msg);
  }

  @Test
  void hardlinkGroupsCountOnlyNamesInsideTheTree() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("tree"));
    Files.writeString(tmp.resolve("outside"), "x", StandardCharsets.UTF_8);
    Files.createLink(root.resolve("inside"), tmp.resolve("outside"));
    Files.writeString(root.resolve("z"), "y", StandardCharsets.UTF_8);
    Files.createLink(root.resolve("a"), root.resolve("z"));
    TreeManifest m = TreeManifest.of(root);
    assertNull(m.get("inside").orElseThrow().hardlink(), "nlink 2, but one name in the tree");
    assertEquals("a", m.get("a").orElseThrow().hardlink(), "the group is named by its first path");
    assertEquals("a", m.get("z").orElseThrow().hardlink());
  }

  @Test
  void toTextIsStable() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("small"));
    try (Fd dir = Sys.openDirectory(root.toString())) {
      Sys.fchmod(dir.get(), 0755);
      write(dir.get(), b("a b"), "hi\n", 0640);
      Sys.lsetxattrAt(dir.get(), b("a b"), "user.bin", new byte[] {0, (byte) 0xff}, 0);
      Sys.symlinkat(b("a b"), dir.get(), b("l"));
      write(dir.get(), LATIN1, "", 0600);
    }
    setTimes(root);
    String owner = UID + ":" + GID;
    String expected =
        ". dir mode=0755 owner="
            + owner
            + " mtime=1600000000.000000123\n"
            + "\"a b\" file mode=0640 owner="
            + owner
            + " size=3 sha256="
            + TreeManifest.sha256(b("hi\n"))
            + " mtime=1600000000.000000123 xattr.user.bin=0x00ff\n"
            + "caf\\xe9 file mode=0600 owner="
            + owner
            + " size=0 sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            + " mtime=1600000000.000000123\n"
            + "l symlink mode=0777 owner="
            + owner
            + " target=\"a b\" mtime=1600000000.000000123\n";
    assertEquals(expected, TreeManifest.of(root).toText());
  }

  @Test
  void jsonRoundTrips() throws IOException {
    TreeManifest m = TreeManifest.of(buildTree(tmp.resolve("t")));
    String json = m.toJson();
    assertTrue(json.contains("\"path\" : \"caf\\\\xe9\""), json);
    assertTrue(json.contains("\"mode\" : \"4755\""), json);
    TreeManifest back = TreeManifest.fromJson(json);
    TreeManifest.assertSame(m, back);
    assertEquals(m, back);
    assertThrows(IllegalArgumentException.class, () -> TreeManifest.fromJson("{\"x\": 1}"));
    assertThrows(IllegalArgumentException.class, () -> TreeManifest.fromJson("not json"));
  }

  @Test
  void optionsLeaveThingsOut() throws IOException {
    Path root = buildTree(tmp.resolve("t"));
    TreeManifest all = TreeManifest.of(root);

    TreeManifest noTimes = TreeManifest.of(root, Options.builder().ignoreMtimes().build());
    for (Entry e : noTimes.entries()) {
      assertNull(e.mtimeSec(), e.path());
      assertNull(e.mtimeNanos(), e.path());
    }
    TreeManifest noDirTimes =
        TreeManifest.of(root, Options.builder().ignoreDirectoryMtimes().build());
    assertNull(noDirTimes.get("etc").orElseThrow().mtimeSec());
    assertEquals(MTIME, noDirTimes.get("etc/passwd").orElseThrow().mtimeSec());
    TreeManifest noLinkTimes =
        TreeManifest.of(root, Options.builder().ignoreMtimesOf(TreeManifest.Type.SYMLINK).build());
    assertNull(noLinkTimes.get("bin/sh").orElseThrow().mtimeSec());
    assertEquals(MTIME, noLinkTimes.get("etc").orElseThrow().mtimeSec());

    Entry rootEntry =
        TreeManifest.of(root, Options.builder().ignoreRootAttributes().build())
            .get(".")
            .orElseThrow();
    assertEquals(TreeManifest.Type.DIR, rootEntry.type());
    assertNull(rootEntry.mode());
    assertNull(rootEntry.uid());
    assertNull(rootEntry.mtimeSec());

    TreeManifest noMime = TreeManifest.of(root, Options.builder().ignoreXattrs("user.mi").build());
    assertEquals(Map.of(), noMime.get("etc/passwd").orElseThrow().xattrs());

    TreeManifest noBin =
        TreeManifest.of(root, Options.builder().exclude("bin").exclude("/etc/passwd").build());
    assertFalse(paths(noBin).stream().anyMatch(p -> p.equals("bin") || p.startsWith("bin/")));
    assertTrue(noBin.get("bin-x").isPresent(), "exclude is by component, not by prefix");
    assertFalse(noBin.get("etc/passwd").isPresent());
    assertTrue(noBin.get("etc/hosts").isPresent());
    assertEquals(all.entries().size() - 6, noBin.entries().size());

    // Options applied later to a manifest give the same as options applied to the walk.
    Options o = Options.builder().ignoreDirectoryMtimes().exclude("usr").build();
    assertEquals(TreeManifest.of(root, o), all.normalize(o));
  }

  @Test
  void idMapsTranslateHostIdsToNamespaceIds() {
    TreeManifest host =
        TreeManifest.ofEntries(
            List.of(
                Entry.dir(".", 0755, 1002, 1002),
                Entry.file("mapped", b(""), 0644, 165536, 165536 + 99),
                Entry.file("high", b(""), 0644, 165536 + 65534, 165536),
                Entry.file("outside", b(""), 0644, 5, 70000)));
    Options ns =
        Options.builder()
            .idMaps(
                IdMapping.userNamespace(1002, 165536, 65536),
                IdMapping.userNamespace(1002, 165536, 65536))
            .build();
    TreeManifest inside = host.normalize(ns);
    assertEquals(0L, inside.get(".").orElseThrow().uid());
    assertEquals(1L, inside.get("mapped").orElseThrow().uid());
    assertEquals(100L, inside.get("mapped").orElseThrow().gid());
    assertEquals(65535L, inside.get("high").orElseThrow().uid());
    assertEquals(TreeManifest.UNMAPPED, inside.get("outside").orElseThrow().uid());
    assertEquals(TreeManifest.UNMAPPED, inside.get("outside").orElseThrow().gid());
    assertTrue(inside.toText().contains("outside file mode=0644 owner=unmapped:unmapped"));

    TreeManifest shifted = host.normalize(Options.builder().shiftIds(165536, 165536).build());
    assertEquals(0L, shifted.get("mapped").orElseThrow().uid());
    assertEquals(99L, shifted.get("mapped").orElseThrow().gid());
    assertEquals(TreeManifest.UNMAPPED, shifted.get(".").orElseThrow().uid());
    assertThrows(IllegalArgumentException.class, () -> new IdMapping(0, 1, 0));
  }

  @Test
  void entriesAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> Entry.dir("/abs", 0755, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> Entry.dir("trailing/", 0755, 0, 0));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            TreeManifest.ofEntries(
                List.of(Entry.dir("a", 0755, 0, 0), Entry.dir("a", 0700, 0, 0))));
    assertThrows(
        IllegalArgumentException.class,
        () -> Entry.special("x", TreeManifest.Type.FILE, 0644, 0, 0, 0, 0));
    assertEquals("0x7122", TreeManifest.xattrValue(b("q\"")));
    assertEquals("0x71225c", TreeManifest.xattrValue(b("q\"\\")));
    assertEquals("\"plain text\"", TreeManifest.xattrValue(b("plain text")));
    assertEquals("\"\"", TreeManifest.xattrValue(new byte[0]));
    assertNotEquals(
        TreeManifest.ofEntries(List.of(Entry.dir(".", 0755, 0, 0))),
        TreeManifest.ofEntries(List.of(Entry.dir(".", 0700, 0, 0))));
    assertEquals("caf\\xe9", Names.display(LATIN1));
  }

  @RootTest
  void devicesAndOwnersAsRoot() throws IOException {
    Path a = Files.createDirectories(tmp.resolve("a"));
    Path b = Files.createDirectories(tmp.resolve("b"));
    for (Path p : List.of(a, b)) {
      try (Fd dir = Sys.openDirectory(p.toString())) {
        Sys.mknodat(dir.get(), b("null"), Sys.S_IFCHR | 0666, 1, 3);
        Sys.fchmodat(dir.get(), b("null"), 0666, 0);
        Sys.mknodat(dir.get(), b("loop"), Sys.S_IFBLK | 0660, 7, 0);
        write(dir.get(), b("owned"), "x", 0644);
        Sys.fchownat(dir.get(), b("owned"), 1000, 70000, 0);
        Sys.lsetxattrAt(dir.get(), b("owned"), "trusted.overlay.opaque", b("y"), 0);
      }
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    Options o = Options.builder().ignoreMtimes().build();
    TreeManifest ma = TreeManifest.of(a, o);
    Entry n = ma.get("null").orElseThrow();
    assertEquals(TreeManifest.Type.CHAR, n.type());
    assertEquals(1L, n.rdevMajor());
    assertEquals(3L, n.rdevMinor());
    assertNull(n.size());
    assertEquals(TreeManifest.Type.BLOCK, ma.get("loop").orElseThrow().type());
    Entry owned = ma.get("owned").orElseThrow();
    assertEquals(1000L, owned.uid());
    assertEquals(70000L, owned.gid());
    assertEquals("\"y\"", owned.xattrs().get("trusted.overlay.opaque"));
    TreeManifest.assertSame(ma, TreeManifest.of(b, o));

    try (Fd dir = Sys.openDirectory(b.toString())) {
      Sys.unlinkat(dir.get(), b("null"), 0);
      Sys.mknodat(dir.get(), b("null"), Sys.S_IFCHR | 0666, 1, 5);
      Sys.fchmodat(dir.get(), b("null"), 0666, 0);
      Sys.fchownat(dir.get(), b("owned"), 1001, 70000, 0);
    }
    List<String> fields = new ArrayList<>();
    for (Difference d : ma.diff(TreeManifest.of(b, o))) {
      fields.add(d.path() + " " + d.field() + " " + d.left() + " " + d.right());
    }
    assertEquals(List.of("null rdev 1,3 1,5", "owned uid 1000 1001"), fields);
  }
}
