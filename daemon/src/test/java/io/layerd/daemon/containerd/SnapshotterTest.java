package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.layerd.daemon.containerd.SnapshotRecords.Kind;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.spi.Mount;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * containerd's snapshot rules on the engine (vfs here; the end-to-end test runs containerd itself
 * on overlay2 and vfs): the refusals containerd turns into its errdefs, commit as a rename that
 * keeps the layer, views without a layer of their own, labels, records that survive a restart.
 */
class SnapshotterTest {
  @TempDir Path tmp;
  Engine engine;
  Snapshotter s;

  @BeforeEach
  void open() throws Exception {
    engine = Engine.open(EngineConfig.of(tmp.resolve("root"), "vfs"));
    s = Snapshotter.open(engine);
  }

  @AfterEach
  void close() throws Exception {
    engine.close();
  }

  static Status.Code code(Executable e) {
    SnapshotException x = assertThrows(SnapshotException.class, e::run);
    return x.code();
  }

  interface Executable {
    void run() throws Exception;
  }

  @Test
  void prepareCommitPrepareOnItAndRemoveInOrder() throws Exception {
    List<Mount> m = s.prepare("ns/1/extract", "", Map.of("l", "v"));
    assertEquals(1, m.size());
    assertEquals("bind", m.get(0).type(), "vfs: the layer's directory, bound");
    assertTrue(m.get(0).options().contains("rw"));
    Path dir = Path.of(m.get(0).source());
    Files.writeString(dir.resolve("f"), "layer one");
    String layer = s.stat("ns/1/extract").rec().layer();

    s.commit("ns/2/sha256:one", "ns/1/extract", Map.of("c", "1"));
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.stat("ns/1/extract")));
    SnapshotRecords.Rec one = s.stat("ns/2/sha256:one").rec();
    assertEquals(Kind.COMMITTED, one.kind());
    assertEquals(layer, one.layer(), "commit keeps the layer: O(1)");
    assertEquals(Map.of("c", "1"), one.labels());

    List<Mount> child = s.prepare("ns/3/container", "ns/2/sha256:one", Map.of());
    assertEquals("layer one", Files.readString(Path.of(child.get(0).source()).resolve("f")));
    List<Mount> view = s.view("ns/4/view", "ns/2/sha256:one", Map.of());
    assertTrue(view.get(0).options().contains("ro"));
    assertEquals(Kind.VIEW, s.stat("ns/4/view").rec().kind());

    assertEquals(
        Status.Code.FAILED_PRECONDITION,
        code(() -> s.remove("ns/2/sha256:one")),
        "a parent goes after its children");
    s.remove("ns/4/view");
    assertTrue(engine.exists(layer), "a view removes no layer");
    s.remove("ns/3/container");
    s.remove("ns/2/sha256:one");
    assertFalse(engine.exists(layer));
    assertTrue(s.list().isEmpty());
  }

  @Test
  void refusalsCarryContainerdsCodes() throws Exception {
    s.prepare("a", "", Map.of());
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> s.prepare("a", "", Map.of())));
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.prepare("b", "missing", Map.of())));
    assertEquals(
        Status.Code.INVALID_ARGUMENT,
        code(() -> s.prepare("b", "a", Map.of())),
        "an active snapshot is no parent");
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.commit("x", "missing", Map.of())));
    s.commit("c", "a", Map.of());
    s.prepare("d", "c", Map.of());
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> s.commit("c", "d", Map.of())));
    assertEquals(
        Status.Code.FAILED_PRECONDITION,
        code(() -> s.commit("e", "c", Map.of())),
        "only an active snapshot commits");
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> s.prepare("", "", Map.of())));
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.mounts("missing")));
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.remove("missing")));
  }

  @Test
  void aPrepareForALayerAlreadyCommittedOnTheSameParentAnswersAlreadyExists() throws Exception {
    String ref = Snapshotter.SNAPSHOT_REF;
    // namespace a unpacks the base layer and one on it, as containerd's unpacker does
    s.prepare("a/1/extract-1", "", Map.of(ref, "sha256:base"));
    s.commit("a/2/sha256:base", "a/1/extract-1", Map.of(ref, "sha256:base"));
    s.prepare("a/3/extract-2", "a/2/sha256:base", Map.of(ref, "sha256:top"));
    s.commit("a/4/sha256:top", "a/3/extract-2", Map.of(ref, "sha256:top"));
    int layers = engine.store().all().size();

    // namespace b: the base is there already, so containerd neither fetches nor applies it
    SnapshotException e =
        assertThrows(
            SnapshotException.class,
            () -> s.prepare("b/1/extract-1", "", Map.of(ref, "sha256:base")));
    assertEquals(Status.Code.ALREADY_EXISTS, e.code());
    assertEquals("target snapshot sha256:base: already exists", e.getMessage());
    assertEquals(layers, engine.store().all().size(), "no layer was made");
    assertEquals(Status.Code.NOT_FOUND, code(() -> s.stat("b/1/extract-1")));
    assertEquals(
        Status.Code.ALREADY_EXISTS,
        code(() -> s.prepare("b/2/extract-2", "a/2/sha256:base", Map.of(ref, "sha256:top"))));

    // the same chain ID on another parent, an active target, no label: a new layer each
    s.prepare("c/1/extract", "a/4/sha256:top", Map.of(ref, "sha256:base"));
    s.prepare("c/2/extract", "", Map.of(ref, "sha256:pending"));
    s.prepare("c/3/extract", "", Map.of(ref, "sha256:pending"));
    s.prepare("c/4/container", "a/2/sha256:base", Map.of());
    assertEquals(layers + 4, engine.store().all().size());
  }

  @Test
  void usageIsTheLayerDirectorysBlocksAndInodesAsContainerdsSnapshottersReport() throws Exception {
    List<Mount> m = s.prepare("a", "", Map.of());
    Path dir = Path.of(m.get(0).source());
    Files.writeString(dir.resolve("one-byte"), "x");
    Files.createDirectories(dir.resolve("d"));
    long[] u = s.usage("a");
    io.layerd.engine.DiskUsage du = io.layerd.engine.DiskUsage.of(dir);
    assertEquals(du.bytes(), u[0]);
    assertEquals(3, u[1], "the layer's directory, a file, a directory");
    assertTrue(u[0] > 1, "blocks, not the one byte of content: " + u[0]);
    s.commit("b", "a", Map.of());
    s.view("v", "b", Map.of());
    assertEquals(0, s.usage("v")[1], "a view owns no layer");
  }

  @Test
  void labelsUpdateByMask() throws Exception {
    s.prepare("a", "", Map.of("x", "1", "y", "2"));
    assertEquals(Map.of("z", "3"), s.update("a", Map.of("z", "3"), List.of()).rec().labels());
    assertEquals(
        Map.of("z", "3", "w", "4"),
        s.update("a", Map.of("w", "4"), List.of("labels.w")).rec().labels());
    assertEquals(
        Map.of("w", "4"), s.update("a", Map.of(), List.of("labels.z")).rec().labels(), "removed");
    assertEquals(
        Status.Code.INVALID_ARGUMENT, code(() -> s.update("a", Map.of(), List.of("parent"))));
  }

  @Test
  void snapshotsSurviveARestartAndCleanupRemovesOrphanLayers() throws Exception {
    s.prepare("a", "", Map.of());
    s.commit("b", "a", Map.of("k", "v"));
    engine.createReadWrite(Snapshotter.LAYER_PREFIX + "orphan", null); // as after a crash
    engine.close();
    engine = Engine.open(EngineConfig.of(tmp.resolve("root"), "vfs"));
    s = Snapshotter.open(engine);
    assertEquals(Map.of("k", "v"), s.stat("b").rec().labels());
    assertEquals(1, s.cleanup());
    assertFalse(engine.exists(Snapshotter.LAYER_PREFIX + "orphan"));
    assertTrue(engine.exists(s.stat("b").rec().layer()));
  }

  @Test
  void mountsForContainerdHaveAbsolutePathsAndTheFuse3Helper() {
    Mount relative =
        new Mount("overlay", "overlay", List.of("lowerdir=l/A:l/B", "index=off"), "/data/overlay2");
    assertEquals(
        List.of("lowerdir=/data/overlay2/l/A:/data/overlay2/l/B", "index=off"),
        Snapshotter.forContainerd(relative).options());
    assertEquals(
        "fuse3.fuse-overlayfs",
        Snapshotter.forContainerd(new Mount("fuse.fuse-overlayfs", "x", List.of())).type());
  }

  /**
   * BuildKit's util/overlay (GetOverlayLayers) refuses options it does not know, "ro" among them.
   */
  @Test
  void readOnlyOverlaysTakeTheFormOfContainerdsOwnSnapshotter() {
    Mount chain =
        new Mount(
            "overlay",
            "overlay",
            List.of("lowerdir=/h/l/A:/h/l/B", "index=off", "userxattr", "ro"));
    assertEquals(
        new Mount(
            "overlay", "overlay", List.of("lowerdir=/h/l/A:/h/l/B", "index=off", "userxattr")),
        Snapshotter.readOnlyOverlay(chain, false),
        "an overlay of lower directories alone is read-only without ro");
    Mount base =
        new Mount("overlay", "overlay", List.of("lowerdir=/h/l/A:/h/.empty", "index=off", "ro"));
    assertEquals(
        Mount.bind("/h/l/A", true),
        Snapshotter.readOnlyOverlay(base, true),
        "a base layer's view: its own directory, bound read-only, by the path its children name");
    Mount rw = new Mount("overlay", "overlay", List.of("lowerdir=/h/l/A", "upperdir=/h/x/diff"));
    assertEquals(rw, Snapshotter.readOnlyOverlay(rw, true));
  }

  /** BuildKit walks the top-most lower directory of a view: a symlink it would not enter. */
  @Test
  void lowerDirectoriesAreNamedByTheirRealPaths(@TempDir Path home) throws Exception {
    Files.createDirectories(home.resolve("a/diff"));
    Files.createDirectories(home.resolve("l"));
    Files.createSymbolicLink(home.resolve("l/A"), Path.of("../a/diff"));
    Mount m =
        new Mount(
            "overlay", "overlay", List.of("lowerdir=" + home.resolve("l/A"), "index=off", "ro"));
    assertEquals(
        List.of("lowerdir=" + home.toRealPath().resolve("a/diff"), "index=off", "ro"),
        Snapshotter.withRealLowers(m).options());
    String many = (":" + home.resolve("l/A")).repeat(4096 / home.toString().length());
    assertNull(
        Snapshotter.withRealLowers(
            new Mount("overlay", "overlay", List.of("lowerdir=" + home.resolve("l/A") + many))),
        "over a page of mount data: the short links stay");
  }
}
