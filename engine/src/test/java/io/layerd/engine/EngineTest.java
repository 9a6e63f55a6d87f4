package io.layerd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.Host;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.conformance.CrashingInputStream;
import io.layerd.testkit.conformance.SimulatedCrash;
import io.layerd.unpack.OwnerMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** The engine's graph-driver operations over {@link DirDriver} (a minimal copying driver). */
class EngineTest {
  private static final TreeManifest.Options TREE =
      TreeManifest.Options.builder().ignoreDirectoryMtimes().ignoreRootAttributes().build();

  @TempDir Path tmp;
  Path root;
  Engine engine;

  @BeforeEach
  void open() throws IOException {
    root = tmp.resolve("root");
    engine = Engine.open(config());
  }

  @AfterEach
  void close() throws IOException {
    if (engine != null) {
      engine.close();
    }
  }

  private EngineConfig config() throws IOException {
    return new EngineConfig(
        root,
        DirDriver.NAME,
        Map.of(),
        Host.current(),
        List.of(new DirDriver.Provider()),
        OwnerMapper.identity());
  }

  private void layer(String id, String parent, TarBuilder tar) throws IOException {
    engine.create(id, parent);
    engine.applyDiff(id, parent, new ByteArrayInputStream(tar.build()));
  }

  private TreeManifest tree(String id) throws IOException {
    Path dir = engine.get(id);
    try {
      return TreeManifest.of(dir, TREE);
    } finally {
      engine.put(id);
    }
  }

  /** Owners shifted by 100000 (uids) and 200000 (gids); uid 7777 has no host id. */
  private static final OwnerMapper SHIFT =
      new OwnerMapper() {
        @Override
        public long uid(long containerUid, io.layerd.unpack.TarEntry entry) throws IOException {
          if (containerUid == 7777) {
            throw new IOException(
                "uid 7777 of " + (entry == null ? "." : entry.displayName()) + " is not mapped");
          }
          return containerUid + 100000;
        }

        @Override
        public long gid(long containerGid, io.layerd.unpack.TarEntry entry) {
          return containerGid + 200000;
        }
      };

  @RootTest
  void aShiftedCopyIsTheWholeTreeWithEveryOwnerMapped() throws IOException {
    layer(
        "base",
        null,
        baseTar().file("gone", "g").file("noted", "n").xattr("user.note", "kept").owner(9, 9));
    layer("child", "base", TarBuilder.create().whiteout("gone").file("etc/new", "n").owner(5, 6));
    engine.createShifted("shifted", "child", SHIFT);
    assertEquals(null, engine.store().get("shifted").orElseThrow().parent(), "a base layer");
    TreeManifest shifted;
    Path dir = engine.get("shifted");
    try {
      shifted =
          TreeManifest.of(
              dir,
              TreeManifest.Options.builder()
                  .ignoreDirectoryMtimes()
                  .ignoreRootAttributes()
                  .shiftIds(100000, 200000)
                  .build());
      io.layerd.sys.Stat root = io.layerd.sys.Sys.lstat(dir.toString());
      assertEquals(100000, root.uid(), "the root is the mapped root's");
      assertEquals(200000, root.gid());
    } finally {
      engine.put("shifted");
    }
    TreeManifest.assertSame(tree("child"), shifted);

    int layers = engine.store().all().size();
    layer("odd", null, TarBuilder.create().file("f", "x").owner(7777, 0));
    IOException e =
        assertThrows(IOException.class, () -> engine.createShifted("bad", "odd", SHIFT));
    assertTrue(e.getMessage().contains("7777"), e.getMessage());
    assertFalse(engine.exists("bad"), "a failed copy leaves no layer");
    assertEquals(layers + 1, engine.store().all().size());
  }

  /** A base layer: a setuid file of 7:8, a symlink, a hardlink. */
  private static TarBuilder baseTar() {
    return TarBuilder.create()
        .dir("etc/")
        .file("etc/passwd", "root:x:0:0\n")
        .file("bin", 4000)
        .mode(04755)
        .owner(7, 8)
        .symlink("link", "/etc/passwd")
        .file("a", "a")
        .hardlink("b", "a");
  }

  @RootTest
  void applyDiffThenDiffRoundTrip() throws IOException {
    layer("base", null, baseTar());
    layer(
        "child",
        "base",
        TarBuilder.create().whiteout("a").file("etc/new", "n").mtime(1_700_000_100L));
    assertEquals(
        List.of("DELETED /a", "MODIFIED /etc", "ADDED /etc/new"),
        engine.changes("child", null).stream().map(Change::toString).toList());

    for (String id : List.of("base", "child")) {
      ByteArrayOutputStream tar = new ByteArrayOutputStream();
      String parent = engine.store().get(id).orElseThrow().parent();
      engine.diff(id, parent, tar);
      String copy = id + "-again";
      engine.create(copy, parent);
      engine.applyDiff(copy, parent, new ByteArrayInputStream(tar.toByteArray()));
      TreeManifest.assertSame(tree(id), tree(copy));
    }
    assertEquals(04755, tree("base").get("bin").orElseThrow().mode());
    assertEquals(7L, tree("base").get("bin").orElseThrow().uid());
    assertEquals("a", tree("base").get("b").orElseThrow().hardlink());
  }

  @RootTest
  void diffSizeCountsAddedAndModifiedContentOnce() throws IOException {
    layer("p", null, TarBuilder.create().file("old", 10));
    layer(
        "c",
        "p",
        TarBuilder.create().file("old", 30).mtime(1).file("new", 100).hardlink("new2", "new"));
    assertEquals(130, engine.diffSize("c", null), "a hardlinked inode counts once");
    assertEquals(130, engine.store().get("c").orElseThrow().size(), "recorded by ApplyDiff");
    assertEquals(140, engine.diffSize("p", null) + engine.diffSize("c", null));
  }

  @RootTest
  void getAndPutAreCounted() throws IOException {
    layer("l", null, TarBuilder.create().file("f", "x"));
    Path a = engine.get("l");
    assertEquals(a, engine.get("l"));
    assertEquals(2, engine.references("l"));
    engine.put("l");
    assertEquals(1, engine.references("l"));
    engine.put("l");
    assertEquals(0, engine.references("l"));
    IOException e = assertThrows(IOException.class, () -> engine.put("l"));
    assertTrue(e.getMessage().contains("put more often than it was got"), e.getMessage());
    assertThrows(java.nio.file.NoSuchFileException.class, () -> engine.get("nope"));
    assertEquals(Map.of("Dir", a.toString()), engine.metadata("l"));
  }

  @RootTest
  void removalOfALayerWithChildrenIsRefused() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    engine.createReadWrite("c", "p");
    IOException e = assertThrows(IOException.class, () -> engine.remove("p"));
    assertTrue(e.getMessage().contains("child layers (c)"), e.getMessage());
    assertTrue(engine.exists("p"));
    engine.remove("c");
    engine.remove("p");
    assertFalse(engine.exists("p"));
    engine.remove("p"); // idempotent
  }

  @RootTest
  void applyDiffOfATruncatedTarRollsBackToTheEmptyLayer() throws IOException {
    byte[] tar = TarBuilder.create().file("one", 1000).file("two", 100_000).build();
    engine.create("l", null);
    TreeManifest created = tree("l");
    byte[] cut = Arrays.copyOf(tar, 512 * 4 + 10_000);
    assertThrows(
        IOException.class, () -> engine.applyDiff("l", null, new ByteArrayInputStream(cut)));
    assertTrue(engine.exists("l"), "the layer Create made stays");
    TreeManifest.assertSame(created, tree("l"));
    LayerMeta m = engine.store().get("l").orElseThrow();
    assertFalse(m.applying());
    assertEquals(null, m.diffId());
    engine.applyDiff("l", null, new ByteArrayInputStream(tar));
    assertEquals(100_000L, tree("l").get("two").orElseThrow().size());
  }

  /** Issue 14, item 1: a second ApplyDiff with garbage deleted a layer with children. */
  @RootTest
  void aSecondApplyDiffIsRefusedAndLeavesTheLayerAndItsChildren() throws IOException {
    layer("img", null, TarBuilder.create().file("etc/motd", "hello\n"));
    TreeManifest before = tree("img");
    byte[] garbage = TarBuilder.create().file("a", "x").build();
    garbage[148] ^= 1;
    IOException filled =
        assertThrows(
            IOException.class,
            () -> engine.applyDiff("img", null, new ByteArrayInputStream(garbage)));
    assertTrue(filled.getMessage().contains("already holds an applied diff"), filled.getMessage());
    engine.createReadWrite("ctr", "img");
    IOException again =
        assertThrows(
            IOException.class,
            () -> engine.applyDiff("img", null, new ByteArrayInputStream(garbage)));
    assertTrue(again.getMessage().contains("already holds an applied diff"), again.getMessage());
    assertTrue(engine.exists("img"));
    TreeManifest.assertSame(before, tree("img"));
    assertEquals("hello\n", Files.readString(engine.get("ctr").resolve("etc/motd")));
    engine.put("ctr");
  }

  @RootTest
  void applyDiffIsRefusedOnALayerWithChildrenOrAReadWriteLayer() throws IOException {
    engine.create("p", null);
    engine.createReadWrite("c", "p");
    byte[] tar = TarBuilder.create().file("f", "x").build();
    IOException e =
        assertThrows(
            IOException.class, () -> engine.applyDiff("p", null, new ByteArrayInputStream(tar)));
    assertTrue(e.getMessage().contains("has child layers (c)"), e.getMessage());
    IllegalArgumentException rw =
        assertThrows(
            IllegalArgumentException.class,
            () -> engine.applyDiff("c", "p", new ByteArrayInputStream(tar)));
    assertTrue(rw.getMessage().contains("read-write"), rw.getMessage());
    assertTrue(tree("p").get("f").isEmpty(), "nothing was applied");
  }

  /** Issue 14, item 1: ApplyDiff's parent was ignored. */
  @RootTest
  void applyDiffChecksItsParent() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    engine.create("c", "p");
    byte[] tar = TarBuilder.create().file("g", "c").build();
    IllegalArgumentException wrong =
        assertThrows(
            IllegalArgumentException.class,
            () -> engine.applyDiff("c", "does-not-exist", new ByteArrayInputStream(tar)));
    assertTrue(
        wrong.getMessage().contains("names parent does-not-exist, but the layer's parent is p"),
        wrong.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> engine.applyDiff("c", "../../x", new ByteArrayInputStream(tar)));
    IllegalArgumentException base =
        assertThrows(
            IllegalArgumentException.class,
            () -> engine.applyDiff("p", "c", new ByteArrayInputStream(tar)));
    assertTrue(base.getMessage().contains("none (a base layer)"), base.getMessage());
    assertTrue(tree("c").get("g").isEmpty());
    engine.applyDiff("c", "p", new ByteArrayInputStream(tar));
    assertTrue(tree("c").get("g").isPresent());
  }

  /** Issue 14, item 8: after a restart, dockerd's Put for a Get made before it was an error. */
  @RootTest
  void aGetMadeBeforeARestartIsPutWithoutAnError() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    engine.createReadWrite("c", "p");
    engine.get("c");
    engine.get("c");
    engine.abandonForCrashTest();
    engine = Engine.open(config());
    engine.put("c"); // the restart lost the count: this Put releases nothing and is no error
    IOException twice = assertThrows(IOException.class, () -> engine.put("c"));
    assertTrue(twice.getMessage().contains("put more often than it was got"), twice.getMessage());
    engine.get("c");
    engine.put("c");
    assertThrows(IOException.class, () -> engine.put("c"));
    IOException missing = assertThrows(IOException.class, () -> engine.put("nothing"));
    assertTrue(missing.getMessage().contains("put more often"), missing.getMessage());
  }

  @RootTest
  void recoveryRemovesHalfMadeLayersAndStaleStaging() throws IOException {
    layer("p", null, TarBuilder.create().file("f", "p"));
    TreeManifest before = tree("p");
    engine.create("half", "p");
    TarBuilder big = TarBuilder.create();
    for (int i = 0; i < 8; i++) {
      big.file("f" + i, 50_000);
    }
    byte[] tar = big.build();
    assertThrows(
        SimulatedCrash.class,
        () ->
            engine.applyDiff(
                "half", "p", new CrashingInputStream(new ByteArrayInputStream(tar), 200_000)));
    assertTrue(engine.store().get("half").orElseThrow().applying(), "the crash left it marked");
    engine.abandonForCrashTest();
    engine = null;
    // More debris: a staging left-over, and a record whose driver state is gone.
    Path junk = Files.createDirectories(root.resolve("staging/x.1234/deep"));
    Files.writeString(junk.resolve("file"), "junk");
    try (LayerStore s = LayerStore.open(root)) {
      s.put(new LayerMeta("ghost", null, false, null, 0, 0, false));
    }

    engine = Engine.open(config());
    assertFalse(engine.exists("half"));
    assertFalse(engine.driver().exists("half"));
    assertFalse(engine.exists("ghost"));
    try (var s = Files.list(root.resolve("staging"))) {
      assertEquals(0, s.count(), "staging is emptied");
    }
    TreeManifest.assertSame(before, tree("p"));
    engine.create("half", "p");
    engine.applyDiff("half", "p", new ByteArrayInputStream(tar));
    assertEquals(9, tree("half").entries().size() - 1);
  }

  @RootTest
  void statusNamesTheDriverAndTheBackingFilesystem() throws IOException {
    Map<String, String> status = new java.util.LinkedHashMap<>();
    engine.status().forEach(e -> status.put(e.getKey(), e.getValue()));
    assertEquals(DirDriver.NAME, status.get("Driver"));
    assertFalse(status.get("Backing Filesystem").isEmpty());
    assertEquals(root.toAbsolutePath().toString(), status.get("Data Root"));
  }

  @RootTest
  void aSecondEngineOnTheDataRootIsRefused() {
    DataRootException e = assertThrows(DataRootException.class, () -> Engine.open(config()));
    assertTrue(e.getMessage().contains("in use by another layerd process"), e.getMessage());
  }
}
