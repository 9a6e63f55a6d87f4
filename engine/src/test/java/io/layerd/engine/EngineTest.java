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

  @RootTest
  void applyDiffThenDiffRoundTrip() throws IOException {
    layer(
        "base",
        null,
        TarBuilder.create()
            .dir("etc/")
            .file("etc/passwd", "root:x:0:0\n")
            .file("bin", 4000)
            .mode(04755)
            .owner(7, 8)
            .symlink("link", "/etc/passwd")
            .file("a", "a")
            .hardlink("b", "a"));
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
  void applyDiffOfATruncatedTarLeavesNoLayer() throws IOException {
    byte[] tar = TarBuilder.create().file("one", 1000).file("two", 100_000).build();
    engine.create("l", null);
    byte[] cut = Arrays.copyOf(tar, 512 * 4 + 10_000);
    assertThrows(
        IOException.class, () -> engine.applyDiff("l", null, new ByteArrayInputStream(cut)));
    assertFalse(engine.exists("l"));
    assertFalse(engine.driver().exists("l"), "the driver's state is gone too");
    assertTrue(engine.store().all().isEmpty());
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
