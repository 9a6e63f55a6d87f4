package io.layerd.testkit.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.UserNsTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;

/**
 * The one conformance suite every storage driver runs, through the engine, in Docker's graph-driver
 * model. A driver module subclasses it and says how to open a store:
 *
 * <pre>{@code
 * class VfsConformanceTest extends LayerStoreConformance {
 *   @Override
 *   protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
 *     return EngineUnderTest.open(dataRoot, "vfs", idShift);
 *   }
 * }
 * }</pre>
 *
 * <p>Each check gets a fresh data-root in a fresh temporary directory. Fixtures are layer tars
 * built in code ({@link TarBuilder}); trees are compared as {@link TreeManifest}s. What applies to
 * a driver is decided by the capabilities it declares ({@code XATTRS}, {@code DEVICES}, {@code
 * NEEDS_MOUNT}, {@code ROOTLESS}), never by its name. The suite needs root: real root, or root
 * inside a user namespace — {@link #conformsAsUnprivilegedUserInUserNamespace} runs every other
 * check again in a child JVM as {@link TestUser#standard()} inside {@code unshare --user
 * --map-root-user --map-auto} (for drivers that declare {@code ROOTLESS}).
 */
public abstract class LayerStoreConformance {
  /** Owners are shifted by this much in {@link #ownersThroughAnIdMapping} (fits in 65536 ids). */
  protected static final long ID_SHIFT = 10_000;

  private static final long T0 = TarBuilder.DEFAULT_MTIME;

  /** Directory mtimes change as layers are applied into them; the root's attributes vary. */
  private static final TreeManifest.Options TREE =
      TreeManifest.Options.builder().ignoreDirectoryMtimes().ignoreRootAttributes().build();

  /** The temporary directory of this check; the data-root is {@code base/root}. */
  protected Path base;

  /** The store under test, open on {@code base/root}. */
  protected LayerStoreUnderTest store;

  /**
   * Opens a store on {@code dataRoot} (which may not exist yet). {@code idShift} maps layer owners
   * on ApplyDiff as Docker's --userns-remap does: container id n becomes n + idShift (0: as they
   * are).
   */
  protected abstract LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException;

  // Every check is a @RootTest (tier "root"): real root, or root in a user namespace, since layers
  // hold files of many owners.
  @BeforeEach
  void openStore() throws IOException {
    base = Files.createTempDirectory("layerd-conformance-");
    store = open(base.resolve("root"), 0);
  }

  @AfterEach
  void closeStore() throws IOException {
    try {
      if (store != null) {
        store.close();
      }
    } finally {
      if (base != null) {
        TestFiles.deleteTree(base);
      }
    }
  }

  // ------------------------------------------------------------------ checks

  @RootTest
  void createAndRemove() throws IOException {
    store.create("base", null);
    assertTrue(store.exists("base"));
    Path dir = store.get("base");
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(0, s.count(), "a new base layer is empty");
    } finally {
      store.put("base");
    }
    assertThrows(IOException.class, () -> store.create("base", null), "create of an existing id");
    assertThrows(IOException.class, () -> store.create("orphan", "no-such-parent"));
    assertFalse(store.exists("orphan"), "a failed create leaves no layer");

    store.remove("base");
    assertFalse(store.exists("base"));
    store.remove("base"); // removing a missing layer is no error, as Docker expects
    assertThrows(IOException.class, () -> store.get("base"));
    store.create("base", null);
    assertTrue(store.exists("base"), "an id can be used again once removed");

    for (String hostile :
        List.of("../escape", "a/b", "..", ".", "", "nul\0byte", "x".repeat(300), "/abs")) {
      assertThrows(
          Exception.class, () -> store.create(hostile, null), "create of id '" + hostile + "'");
    }
    try (Stream<Path> s = Files.list(base)) {
      assertEquals(
          List.of("root"),
          s.map(p -> p.getFileName().toString()).toList(),
          "nothing is made beside the data-root");
    }
    assertNoNameUnder(store.dataRoot(), "escape");
  }

  @RootTest
  void parentChains() throws IOException {
    String parent = null;
    for (int i = 1; i <= 5; i++) {
      String id = "l" + i;
      layer(
          id,
          parent,
          TarBuilder.create()
              .dir("common/")
              .file("common/f" + i, "layer " + i)
              .file("shared", "version " + "!".repeat(i))
              .mtime(T0 + i));
      parent = id;
    }
    TreeManifest top = tree("l5");
    for (int i = 1; i <= 5; i++) {
      assertContent(top, "common/f" + i, "layer " + i);
    }
    assertContent(top, "shared", "version !!!!!");
    TreeManifest middle = tree("l3");
    assertContent(middle, "common/f3", "layer 3");
    assertTrue(middle.get("common/f4").isEmpty(), "a parent does not see its children's files");
    assertContent(middle, "shared", "version !!!");
    assertEquals(
        List.of(
            LayerChange.modified("/common"),
            LayerChange.added("/common/f5"),
            LayerChange.modified("/shared")),
        store.changes("l5", null));
    assertEquals(
        List.of(
            LayerChange.modified("/common"),
            LayerChange.added("/common/f4"),
            LayerChange.added("/common/f5"),
            LayerChange.modified("/shared")),
        store.changes("l5", "l3"),
        "changes against an older ancestor");
  }

  @RootTest
  void readWriteLayersAsParents() throws IOException {
    // Docker's container life: image layer, C-init (written by dockerd), C on top of C-init.
    layer(
        "image",
        null,
        TarBuilder.create()
            .dir("etc/")
            .file("etc/os-release", "ID=test\n")
            .dir("bin/")
            .file("bin/sh", 2000)
            .mode(0755));
    store.createReadWrite("c-init", "image");
    Path init = store.get("c-init");
    try {
      Files.writeString(init.resolve("etc/hosts"), "127.0.0.1 localhost\n");
    } finally {
      store.put("c-init");
    }
    store.createReadWrite("c", "c-init");
    Path c = store.get("c");
    try {
      assertEquals("127.0.0.1 localhost\n", Files.readString(c.resolve("etc/hosts")));
      assertEquals("ID=test\n", Files.readString(c.resolve("etc/os-release")));
      Files.writeString(c.resolve("etc/motd"), "hello\n");
      Files.delete(c.resolve("bin/sh"));
    } finally {
      store.put("c");
    }
    TreeManifest initTree = tree("c-init");
    assertTrue(initTree.get("etc/motd").isEmpty(), "a child's writes do not reach its parent");
    assertTrue(initTree.get("bin/sh").isPresent());
    assertEquals(
        List.of(
            LayerChange.modified("/bin"),
            LayerChange.deleted("/bin/sh"),
            LayerChange.modified("/etc"),
            LayerChange.added("/etc/motd")),
        store.changes("c", "c-init"));
    assertThrows(IOException.class, () -> store.remove("c-init"), "C-init is C's parent");

    // docker commit: Diff C against C-init, applied as a new layer on the image.
    byte[] committed = diff("c", "c-init");
    store.create("n", "image");
    store.applyDiff("n", "image", new ByteArrayInputStream(committed));
    TreeManifest n = tree("n");
    assertContent(n, "etc/motd", "hello\n");
    assertContent(n, "etc/os-release", "ID=test\n");
    assertTrue(n.get("etc/hosts").isEmpty(), "C-init's files are not part of C's diff");
    assertTrue(n.get("bin/sh").isEmpty(), "the deletion travels as a whiteout");
  }

  @RootTest
  void getAndPutAreCounted() throws IOException {
    layer("l", null, TarBuilder.create().file("f", "x"));
    boolean mounts = has("NEEDS_MOUNT");
    assertEquals(0, store.references("l"));
    Path a = store.get("l");
    Path b = store.get("l");
    assertEquals(a, b, "every get of a layer shows the same directory");
    assertEquals(2, store.references("l"));
    if (mounts) {
      assertTrue(TestFiles.isMountPoint(a), a + " is mounted while got");
    }
    store.put("l");
    assertEquals(1, store.references("l"));
    assertEquals("x", Files.readString(a.resolve("f")), "still there after the first put");
    if (mounts) {
      assertTrue(TestFiles.isMountPoint(a), "a layer got twice stays mounted after one put");
    }
    store.put("l");
    assertEquals(0, store.references("l"));
    if (mounts) {
      assertFalse(TestFiles.isMountPoint(a), "the last put unmounts");
    }
    assertThrows(IOException.class, () -> store.put("l"), "a put without a get");
    assertEquals(0, store.references("l"));
    assertThrows(IOException.class, () -> store.get("missing"));

    Path again = store.get("l");
    store.remove("l"); // a layer still got is released first
    assertFalse(store.exists("l"));
    assertEquals(0, store.references("l"));
    if (mounts) {
      assertFalse(TestFiles.isMountPoint(again));
    }
  }

  @RootTest
  void applyDiffThenDiffRoundTrip() throws IOException {
    layer(
        "base",
        null,
        TarBuilder.create()
            .dir("etc/")
            .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
            .dir("usr/")
            .dir("usr/bin/")
            .file("usr/bin/tool", 5000)
            .mode(04755)
            .mtime(T0 - 100)
            .symlink("usr/bin/link", "tool")
            .symlink("abs", "/etc/passwd")
            .dir("tmp/")
            .mode(01777)
            .file("empty", new byte[0])
            .mode(0600)
            .file("big", 300_000)
            .mode(0640));
    TreeManifest b = tree("base");
    assertEquals(04755, b.get("usr/bin/tool").orElseThrow().mode(), "setuid is kept");
    assertEquals(T0 - 100, b.get("usr/bin/tool").orElseThrow().mtimeSec());
    assertEquals(01777, b.get("tmp").orElseThrow().mode());
    assertEquals("/etc/passwd", b.get("abs").orElseThrow().target());
    assertEquals(300_000L, b.get("big").orElseThrow().size());

    store.create("base2", null);
    store.applyDiff("base2", null, new ByteArrayInputStream(diff("base", null)));
    TreeManifest.assertSame(b, tree("base2"));

    layer(
        "child",
        "base",
        TarBuilder.create()
            .file("etc/passwd", "changed\n")
            .mtime(T0 + 10)
            .whiteout("empty")
            .dir("new/")
            .file("new/f", "n")
            .mode(0700));
    store.create("child2", "base");
    store.applyDiff("child2", "base", new ByteArrayInputStream(diff("child", "base")));
    TreeManifest.assertSame(tree("child"), tree("child2"));
    assertTrue(tree("child2").get("empty").isEmpty());
  }

  @RootTest
  void changesAndDiffSize() throws IOException {
    layer(
        "parent",
        null,
        TarBuilder.create()
            .file("a", 100)
            .dir("dir/")
            .file("dir/b", 10)
            .file("keep", 5)
            .file("same", 20));
    assertEquals(
        List.of(
            LayerChange.added("/a"),
            LayerChange.added("/dir"),
            LayerChange.added("/dir/b"),
            LayerChange.added("/keep"),
            LayerChange.added("/same")),
        store.changes("parent", null));
    assertEquals(135, store.diffSize("parent", null));

    long applied =
        layer(
            "child",
            "parent",
            TarBuilder.create()
                .file("a", 300)
                .mtime(T0 + 1)
                .file("dir/b", 10)
                .mode(0600)
                .file("dir/c", 50)
                .whiteout("keep"));
    assertEquals(360, applied, "ApplyDiff's size: the file content the layer brought");
    assertEquals(
        List.of(
            LayerChange.modified("/a"),
            LayerChange.modified("/dir"),
            LayerChange.modified("/dir/b"),
            LayerChange.added("/dir/c"),
            LayerChange.deleted("/keep")),
        store.changes("child", null),
        "against its own parent");
    assertEquals(360, store.diffSize("child", null), "300 + 10 + 50: deletions weigh nothing");
  }

  @RootTest
  void whiteoutsAndOpaqueDirectoriesAcrossLayers() throws IOException {
    layer(
        "l1",
        null,
        TarBuilder.create()
            .dir("d/")
            .file("d/x", "x")
            .file("d/y", "y")
            .dir("d/sub/")
            .file("d/sub/z", "z")
            .file("f", "f1")
            .file("g", "g1"));
    layer(
        "l2",
        "l1",
        TarBuilder.create().whiteout("f").file("d/new", "new").opaque("d")); // marker after content
    layer("l3", "l2", TarBuilder.create().file("f", "f3!").whiteout("g"));

    assertPaths(tree("l1"), ".", "d", "d/sub", "d/sub/z", "d/x", "d/y", "f", "g");
    assertPaths(tree("l2"), ".", "d", "d/new", "g");
    assertPaths(tree("l3"), ".", "d", "d/new", "f");
    assertContent(tree("l3"), "f", "f3!");
    assertEquals(
        List.of(
            LayerChange.modified("/d"),
            LayerChange.added("/d/new"),
            LayerChange.deleted("/d/sub"),
            LayerChange.deleted("/d/x"),
            LayerChange.deleted("/d/y"),
            LayerChange.deleted("/f")),
        store.changes("l2", null));

    store.create("l2again", "l1");
    store.applyDiff("l2again", "l1", new ByteArrayInputStream(diff("l2", "l1")));
    TreeManifest.assertSame(tree("l2"), tree("l2again"));
  }

  @RootTest
  void hardlinks() throws IOException {
    layer(
        "l1",
        null,
        TarBuilder.create()
            .file("a", "shared content")
            .hardlink("b", "a")
            .dir("dir/")
            .hardlink("dir/c", "a")
            .file("solo", "alone"));
    TreeManifest t1 = tree("l1");
    for (String p : List.of("a", "b", "dir/c")) {
      assertEquals("a", t1.get(p).orElseThrow().hardlink(), p + " is a name of a's inode");
    }
    assertNull(t1.get("solo").orElseThrow().hardlink());

    layer("l2", "l1", TarBuilder.create().hardlink("d", "a").file("e", "e"));
    TreeManifest t2 = tree("l2");
    for (String p : List.of("a", "b", "dir/c", "d")) {
      assertEquals("a", t2.get(p).orElseThrow().hardlink(), p + " in the child layer");
    }
    TreeManifest.assertSame(t1, tree("l1"));

    store.create("l1again", null);
    store.applyDiff("l1again", null, new ByteArrayInputStream(diff("l1", null)));
    TreeManifest.assertSame(t1, tree("l1again"));
  }

  @RootTest
  void xattrs() throws IOException {
    Assumptions.assumeTrue(has("XATTRS"), "the driver does not declare XATTRS");
    byte[] binary = {0, 1, 2, (byte) 0xff, '"'};
    TarBuilder t =
        TarBuilder.create()
            .dir("d/")
            .xattr("user.dir", "on")
            .file("f", "content")
            .xattr("user.text", "hello")
            .xattr("user.bin", binary);
    boolean realRoot = inInitialUserNamespace();
    if (realRoot) {
      t.file("t", "trusted").xattr("trusted.layerd", "t");
    }
    layer("l1", null, t);
    TreeManifest t1 = tree("l1");
    assertEquals(
        Map.of(
            "user.text", TreeManifest.xattrValue(bytes("hello")),
            "user.bin", TreeManifest.xattrValue(binary)),
        t1.get("f").orElseThrow().xattrs());
    assertEquals(
        Map.of("user.dir", TreeManifest.xattrValue(bytes("on"))),
        t1.get("d").orElseThrow().xattrs());
    if (realRoot) {
      assertEquals(
          Map.of("trusted.layerd", TreeManifest.xattrValue(bytes("t"))),
          t1.get("t").orElseThrow().xattrs());
    }

    layer("l2", "l1", TarBuilder.create().file("g", "g"));
    TreeManifest t2 = tree("l2");
    assertEquals(t1.get("f").orElseThrow().xattrs(), t2.get("f").orElseThrow().xattrs());
    assertEquals(t1.get("d").orElseThrow().xattrs(), t2.get("d").orElseThrow().xattrs());
    assertEquals(List.of(LayerChange.added("/g")), store.changes("l2", null));

    store.create("l1again", null);
    store.applyDiff("l1again", null, new ByteArrayInputStream(diff("l1", null)));
    TreeManifest.assertSame(t1, tree("l1again"));
  }

  @RootTest
  void ownersThroughAnIdMapping() throws IOException {
    TarBuilder t =
        TarBuilder.create()
            .file("a", "a")
            .file("b", "b")
            .owner(1000, 1001)
            .mode(04755)
            .dir("d/")
            .owner(33, 33)
            .mode(0750)
            .symlink("s", "b")
            .owner(1000, 1001)
            .file("implied/dir/file", "f")
            .owner(5, 5);

    layer("plain", null, t);
    assertOwners(tree("plain"), 0);
    layer("plainchild", "plain", TarBuilder.create().file("new", "n"));
    assertOwners(tree("plainchild"), 0);

    try (LayerStoreUnderTest remapped = open(base.resolve("remapped"), ID_SHIFT)) {
      remapped.create("shifted", null);
      remapped.applyDiff("shifted", null, new ByteArrayInputStream(t.build()));
      remapped.create("shiftedchild", "shifted");
      remapped.applyDiff(
          "shiftedchild", "shifted", new ByteArrayInputStream(TarBuilder.create().build()));
      for (String id : List.of("shifted", "shiftedchild")) {
        Path dir = remapped.get(id);
        try {
          assertOwners(TreeManifest.of(dir, TREE), ID_SHIFT);
          assertEquals(
              ID_SHIFT,
              ((Number) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue(),
              "the root of " + id + " belongs to the mapped root");
        } finally {
          remapped.put(id);
        }
      }
    }
  }

  private static void assertOwners(TreeManifest m, long shift) {
    assertOwner(m, "a", shift, shift);
    assertOwner(m, "b", 1000 + shift, 1001 + shift);
    assertEquals(04755, m.get("b").orElseThrow().mode(), "setuid survives the chown");
    assertOwner(m, "d", 33 + shift, 33 + shift);
    assertEquals(0750, m.get("d").orElseThrow().mode());
    assertOwner(m, "s", 1000 + shift, 1001 + shift);
    assertOwner(m, "implied", shift, shift);
    assertOwner(m, "implied/dir", shift, shift);
    assertOwner(m, "implied/dir/file", 5 + shift, 5 + shift);
  }

  private static void assertOwner(TreeManifest m, String path, long uid, long gid) {
    TreeManifest.Entry e = m.get(path).orElseThrow(() -> new AssertionError("no " + path));
    assertEquals(uid + ":" + gid, e.uid() + ":" + e.gid(), "owner of " + path);
  }

  @RootTest
  void removalOfALayerWithChildrenIsRefused() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    store.create("c", "p");
    store.createReadWrite("w", "c");
    TreeManifest before = tree("p");
    IOException e = assertThrows(IOException.class, () -> store.remove("p"));
    assertTrue(e.getMessage().contains("c"), "the refusal names the child: " + e.getMessage());
    assertThrows(IOException.class, () -> store.remove("c"));
    assertTrue(store.exists("p") && store.exists("c") && store.exists("w"));
    TreeManifest.assertSame(before, tree("p"));
    store.remove("w");
    store.remove("c");
    store.remove("p");
    assertFalse(store.exists("p") || store.exists("c") || store.exists("w"));
  }

  @RootTest
  void devicesAndFifos() throws IOException {
    layer(
        "l1",
        null,
        TarBuilder.create()
            .fifo("pipe")
            .mode(0640)
            .dir("dev/")
            .charDevice("dev/null", 1, 3)
            .mode(0666)
            .blockDevice("dev/loop0", 7, 0)
            .mode(0660));
    layer("l2", "l1", TarBuilder.create().file("x", "x"));
    for (String id : List.of("l1", "l2")) {
      TreeManifest m = tree(id);
      TreeManifest.Entry pipe = m.get("pipe").orElseThrow(() -> new AssertionError("no pipe"));
      assertEquals(TreeManifest.Type.FIFO, pipe.type());
      assertEquals(0640, pipe.mode());
      if (has("DEVICES")) {
        TreeManifest.Entry nul = m.get("dev/null").orElseThrow();
        assertEquals(TreeManifest.Type.CHAR, nul.type());
        assertEquals(1L, nul.rdevMajor());
        assertEquals(3L, nul.rdevMinor());
        assertEquals(0666, nul.mode());
        TreeManifest.Entry loop = m.get("dev/loop0").orElseThrow();
        assertEquals(TreeManifest.Type.BLOCK, loop.type());
        assertEquals(7L, loop.rdevMajor());
      }
    }
    store.create("l1again", null);
    store.applyDiff("l1again", null, new ByteArrayInputStream(diff("l1", null)));
    TreeManifest.assertSame(tree("l1"), tree("l1again"));
  }

  @RootTest
  void recoveryAfterACrash() throws IOException {
    layer("p", null, TarBuilder.create().dir("etc/").file("etc/conf", "p"));
    store.createReadWrite("w", "p");
    Path w = store.get("w");
    Files.writeString(w.resolve("written"), "before the crash");
    TreeManifest before = tree("p");
    store.get("p"); // still got when the process dies

    TarBuilder big = TarBuilder.create().dir("data/");
    for (int i = 0; i < 16; i++) {
      big.file("data/f" + i, 64 * 1024);
    }
    byte[] tar = big.build();
    store.create("c", "p");
    store.crashDuringApply("c", "p", new ByteArrayInputStream(tar), tar.length / 3);
    store.reopen();

    assertFalse(store.exists("c"), "the half-applied layer is gone after recovery");
    assertTrue(store.exists("p"));
    assertTrue(store.exists("w"), "complete layers survive a crash");
    // dockerd puts what it got before the crash (issue 14, item 8): counts are reconciled with
    // what is still mounted, and a Get made before the restart is put once, without an error.
    store.put("p");
    store.put("w");
    assertEquals(0, store.references("p"));
    assertEquals(0, store.references("w"));
    assertThrows(IOException.class, () -> store.put("p"), "one Put per Get, restart or not");
    TreeManifest.assertSame(before, tree("p"));
    Path w2 = store.get("w");
    try {
      assertEquals("before the crash", Files.readString(w2.resolve("written")));
    } finally {
      store.put("w");
    }

    store.create("c", "p");
    store.applyDiff("c", "p", new ByteArrayInputStream(tar));
    TreeManifest c = tree("c");
    for (int i = 0; i < 16; i++) {
      assertEquals(64 * 1024L, c.get("data/f" + i).orElseThrow().size());
    }
  }

  @RootTest
  void applyDiffOfATruncatedTarRollsBackToTheCreatedLayer() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    byte[] tar = TarBuilder.create().file("one", 1000).file("two", 100_000).build();
    byte[] cut = Arrays.copyOf(tar, 512 * 4 + 50_000); // in the middle of two's content
    store.create("c", "p");
    TreeManifest created = tree("c");
    assertThrows(IOException.class, () -> store.applyDiff("c", "p", new ByteArrayInputStream(cut)));
    assertTrue(store.exists("c"), "a failed apply rolls back what it made, not the layer");
    TreeManifest.assertSame(created, tree("c"));
    assertTrue(store.exists("p"));
    store.applyDiff("c", "p", new ByteArrayInputStream(tar));
    assertEquals(100_000L, tree("c").get("two").orElseThrow().size());
  }

  /**
   * Runs every other check of this class again as an unprivileged user inside a user namespace, in
   * a child JVM, for drivers that declare ROOTLESS.
   */
  @UserNsTest
  void conformsAsUnprivilegedUserInUserNamespace() {
    Assumptions.assumeTrue(has("ROOTLESS"), "the driver does not declare ROOTLESS");
    Assumptions.assumeTrue(ChildJvm.currentMode() == null, "already in a child JVM");
    ChildJvm.Result r =
        ChildJvm.launcher(TestUser.standard(), ChildJvm.Mode.USER_NAMESPACE)
            .timeout(Duration.ofMinutes(4))
            .call(ConformanceLauncher::run, getClass().getName());
    System.out.println(r.stdout());
    r.assertSuccess();
  }

  // ------------------------------------------------------------------ helpers

  /** True when the driver declares the capability. */
  protected final boolean has(String capability) {
    return store.capabilities().contains(capability);
  }

  /** Creates a read-only layer and applies the tar to it. */
  /** Creates and applies a layer; returns the size ApplyDiff reported. */
  protected final long layer(String id, String parent, TarBuilder tar) throws IOException {
    store.create(id, parent);
    return store.applyDiff(id, parent, new ByteArrayInputStream(tar.build()));
  }

  /** The layer's whole tree (got and put). */
  protected final TreeManifest tree(String id) throws IOException {
    Path dir = store.get(id);
    try {
      return TreeManifest.of(dir, TREE);
    } finally {
      store.put(id);
    }
  }

  /** The layer's Diff against {@code parent}. */
  protected final byte[] diff(String id, String parent) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    store.diff(id, parent, out);
    return out.toByteArray();
  }

  private static void assertContent(TreeManifest m, String path, String content) {
    TreeManifest.Entry e = m.get(path).orElseThrow(() -> new AssertionError("no " + path));
    assertEquals(TreeManifest.Type.FILE, e.type(), path);
    assertEquals(TreeManifest.sha256(bytes(content)), e.sha256(), "content of " + path);
  }

  private static void assertPaths(TreeManifest m, String... paths) {
    List<String> actual = new ArrayList<>();
    for (TreeManifest.Entry e : m.entries()) {
      actual.add(e.path());
      for (String c : e.path().split("/")) {
        if (c.startsWith(".wh.")) {
          fail("a whiteout is left as a file: " + e.path());
        }
      }
    }
    assertEquals(List.of(paths), actual);
  }

  private static void assertNoNameUnder(Path root, String name) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      List<Path> found =
          s.filter(p -> p.getFileName() != null && p.getFileName().toString().contains(name))
              .toList();
      assertEquals(List.of(), found, "hostile ids made entries");
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** True outside any user namespace (uid_map maps every id to itself). */
  private static boolean inInitialUserNamespace() throws IOException {
    String map = Files.readString(Path.of("/proc/self/uid_map")).trim();
    return map.matches("0\\s+0\\s+4294967295");
  }
}
