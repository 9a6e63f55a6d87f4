package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.FieldMask;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.layerd.daemon.containerd.proto.MountProto;
import io.layerd.daemon.containerd.proto.SnapshotsGrpc;
import io.layerd.daemon.containerd.proto.SnapshotsProto;
import io.layerd.daemon.containerd.proto.SnapshotsProto.Kind;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.Tiers;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The snapshotter against what containerd's own conformance suite (containerd's
 * snapshots/testsuite: testsuite.go, issues.go, helpers.go) asks of a snapshotter, over the real
 * gRPC interface: a {@link SnapshotterServer} on a unix socket, a client of containerd's Snapshots
 * service, and the mounts it returns performed with mount(8) as containerd performs them (a FUSE
 * type {@code fuse3.HELPER} through {@code mount.fuse3}). Each case names the suite's case it
 * adapts. Every case runs on each of the four drivers (a subclass per driver): one engine and
 * server per class, emptied after each case, which checks that removing every snapshot leaves no
 * layer. Where the drivers differ, each asserts its own documented behaviour ({@link
 * #layerIsWholeTree}).
 */
@Tag(Tiers.ROOT)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SnapshotSuite {

  static {
    // The client asks for SO_KEEPALIVE, which a unix socket has not: Netty warns at each
    // connection.
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap", "error");
  }

  /** containerd's garbage-collection root label, which the suite gives every snapshot. */
  private static final String GC_ROOT = "containerd.io/gc.root";

  private static final Map<String, String> OPT = Map.of(GC_ROOT, Instant.now().toString());

  /** How trees compare: as containerd's fstest, without times; the mount point's root aside. */
  private static final TreeManifest.Options TREE =
      TreeManifest.Options.builder().ignoreRootAttributes().ignoreMtimes().build();

  /** The engine driver under test. */
  abstract String driver();

  /**
   * Whether a layer's directory holds its whole tree (vfs's copies, btrfs's subvolume snapshots)
   * rather than only what it changes over its parent (overlay2's and fuse-overlayfs's upper
   * directories): Usage, which counts that directory, then counts the parent's files too.
   */
  abstract boolean layerIsWholeTree();

  /** What the driver needs beyond root (probes with {@link Require}); nothing by default. */
  void requirements() {}

  /**
   * The filesystem the data-root must be on, made for the class and closed after it (the engine
   * first); null for a directory under /tmp.
   */
  LoopBtrfs fileSystem() throws IOException {
    return null;
  }

  private LoopBtrfs fs;
  private Rig r;

  @BeforeAll
  void open() throws IOException {
    Require.root();
    requirements();
    fs = fileSystem();
    r = new Rig(driver(), fs == null ? null : fs.path("root"));
  }

  /** Unmounts what the case left mounted, removes every snapshot: no layer may stay. */
  @AfterEach
  void empty() throws IOException {
    if (r != null) {
      r.empty();
    }
  }

  @AfterAll
  void close() throws IOException {
    try {
      if (r != null) {
        r.close();
      }
    } finally {
      if (fs != null) {
        fs.close(); // after the engine: its data-root is on it
      }
    }
  }

  // ------------------------------------------------------------------ cases

  /** testsuite.go checkSnapshotterBasic: prepare, commit, prepare on it, view, walk, remove. */
  @Test
  void basic() throws Exception {
    Op initial =
        ops(file("foo", "foo\n", 0777), dir("a", 0755), dir("a/b", 0755), dir("a/b/c", 0755));
    Op diff = ops(file("bar", "bar\n", 0777), file("foo", "bar\n", 0777), removeAll("a/b"));

    List<MountProto.Mount> m = r.prepare("w/preparing", "", OPT);
    assertFalse(m.isEmpty(), "prepare returns mounts");
    assertEquals(m, r.mounts("w/preparing"), "Mounts gives what Prepare gave");
    Path preparing = r.mount(m, "preparing");
    initial.apply(preparing);
    SnapshotsProto.Info active = r.stat("w/preparing");
    assertEquals(Kind.ACTIVE, active.getKind());
    assertEquals("", active.getParent());

    // containerd commits with the active snapshot still mounted
    r.commit("w/committed", "w/preparing", OPT);
    SnapshotsProto.Info si = r.stat("w/committed");
    assertEquals("", si.getParent());
    assertEquals(Kind.COMMITTED, si.getKind());
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.stat("w/preparing")), "gone after commit");
    r.unmount(preparing);

    Path next = r.mount(r.prepare("w/next", "w/committed", OPT), "next");
    assertTree(r, next, initial);
    diff.apply(next);
    SnapshotsProto.Info ni = r.stat("w/next");
    assertEquals("w/committed", ni.getParent());
    assertEquals(Kind.ACTIVE, ni.getKind());

    r.commit("w/committed-next", "w/next", OPT);
    SnapshotsProto.Info si2 = r.stat("w/committed-next");
    assertEquals("w/committed", si2.getParent());
    assertEquals(Kind.COMMITTED, si2.getKind());
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.stat("w/next")));
    r.unmount(next);

    Map<String, SnapshotsProto.Info> walked = r.list();
    assertEquals(si, walked.get("w/committed"));
    assertEquals(si2, walked.get("w/committed-next"));
    assertEquals(2, walked.size(), "List: " + walked.keySet());

    Path nextnext = r.mount(r.view("w/nextnext", "w/committed-next", OPT), "nextnext");
    assertTree(r, nextnext, ops(initial, diff));
    r.unmount(nextnext);

    r.remove("w/nextnext");
    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.remove("w/committed")));
    r.remove("w/committed-next");
    r.remove("w/committed");
    assertTrue(r.list().isEmpty());
    assertEquals(List.of(), r.snapshotLayers(), "every layer went with its snapshot");
  }

  /** testsuite.go checkSnapshotterStatActive, checkSnapshotterStatCommitted, Transitivity. */
  @Test
  void statGivesKindsAndParents() throws Exception {
    Path p = r.mount(r.prepare("preparing", "", OPT), "preparing");
    file("foo", "foo\n", 0777).apply(p);
    SnapshotsProto.Info a = r.stat("preparing");
    assertEquals("preparing", a.getName());
    assertEquals(Kind.ACTIVE, a.getKind());
    assertEquals("", a.getParent());
    assertEquals(OPT, a.getLabelsMap());
    r.commit("snapA", "preparing", OPT);
    r.unmount(p);

    Path n = r.mount(r.prepare("next", "snapA", OPT), "next");
    file("foo", "foo bar\n", 0777).apply(n);
    r.commit("snapB", "next", OPT);
    r.unmount(n);

    SnapshotsProto.Info siA = r.stat("snapA");
    SnapshotsProto.Info siB = r.stat("snapB");
    assertEquals("snapA", siA.getName());
    assertEquals(Kind.COMMITTED, siA.getKind());
    assertEquals("", siA.getParent());
    assertEquals("snapA", siB.getParent());
    assertEquals("", r.stat(siB.getParent()).getParent(), "the grandparent of nothing");
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.stat("missing")));
  }

  /** testsuite.go checkSnapshotterPrepareView: a key is taken once, whatever the kind. */
  @Test
  void anExistingKeyIsRefused() throws Exception {
    r.prepare("preparing", "", OPT);
    r.commit("snapA", "preparing", OPT);

    r.prepare("newlayer", "snapA", OPT);
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> r.view("newlayer", "snapA", OPT)));
    r.prepare("prepLayer", "snapA", OPT);
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> r.prepare("prepLayer", "snapA", OPT)));
    r.view("viewLayer", "snapA", OPT);
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> r.view("viewLayer", "snapA", OPT)));
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> r.prepare("snapA", "", OPT)));
    // storage.CommitActive: the name must be new
    assertEquals(Status.Code.ALREADY_EXISTS, code(() -> r.commit("snapA", "prepLayer", OPT)));
    assertEquals(Kind.ACTIVE, r.stat("prepLayer").getKind(), "a refused commit changes nothing");
  }

  /**
   * storage.CreateSnapshot (the store the suite's snapshotters share): a parent must be committed
   * (InvalidArgument) and exist (NotFound); storage.CommitActive: only an active snapshot commits
   * (FailedPrecondition).
   */
  @Test
  void onlyCommittedParentsAndActiveCommits() throws Exception {
    r.prepare("active", "", OPT);
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> r.prepare("child", "active", OPT)));
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> r.view("child", "active", OPT)));
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.prepare("child", "missing", OPT)));
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.stat("child")), "nothing was left");

    r.commit("committed", "active", OPT);
    r.view("view", "committed", OPT);
    assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> r.prepare("child", "view", OPT)));
    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.commit("c2", "view", OPT)));
    assertEquals(Kind.VIEW, r.stat("view").getKind());
    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.commit("c3", "committed", OPT)));
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.commit("c4", "missing", OPT)));
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.stat("c2")));
  }

  /** testsuite.go checkRemove: keys are reusable once removed. */
  @Test
  void removedKeysAreReusable() throws Exception {
    r.prepare("committed-a", "", OPT);
    r.commit("committed-1", "committed-a", OPT);
    r.prepare("reuse-1", "committed-1", OPT);
    r.remove("reuse-1");
    r.view("reuse-1", "committed-1", OPT);
    r.remove("reuse-1");
    r.prepare("reuse-1", "", OPT);
    r.remove("committed-1");
    r.commit("committed-1", "reuse-1", OPT);
    assertEquals(Kind.COMMITTED, r.stat("committed-1").getKind());
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.remove("reuse-1")));
  }

  /** testsuite.go checkRemoveIntermediateSnapshot. */
  @Test
  void removingAnIntermediateSnapshotIsRefused() throws Exception {
    Path base = r.mount(r.prepare("base", "", OPT), "base");
    file("f", "base\n", 0644).apply(base);
    r.unmount(base);
    r.commit("committed-base", "base", OPT);
    r.prepare("intermediate", "committed-base", OPT);
    r.commit("committed-inter", "intermediate", OPT);
    r.prepare("toplayer", "committed-inter", OPT);

    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.remove("committed-inter")));
    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.remove("committed-base")));
    assertEquals(3, r.list().size(), "a refused remove removes nothing");
    Path top = r.mount(r.mounts("toplayer"), "top");
    assertEquals("base\n", Files.readString(top.resolve("f")), "and the chain still reads");
    r.unmount(top);

    r.remove("toplayer");
    r.remove("committed-inter");
    r.remove("committed-base");
    assertTrue(r.list().isEmpty());
    assertEquals(List.of(), r.snapshotLayers());
  }

  /** testsuite.go checkDeletedFilesInChildSnapshot. */
  @Test
  void aFileDeletedInAChildIsGoneThereAndStaysInTheParent() throws Exception {
    List<String> chain =
        checkSnapshots(
            r,
            ops(file("foo", "foo\n", 0777), file("foobar", "foobar\n", 0777)),
            removeAll("foobar"),
            ops());
    Path parent = r.mount(r.view("parent-view", chain.get(0), OPT), "parent-view");
    assertEquals("foobar\n", Files.readString(parent.resolve("foobar")));
    Path child = r.mount(r.view("child-view", chain.get(2), OPT), "child-view");
    assertFalse(Files.exists(child.resolve("foobar"), LinkOption.NOFOLLOW_LINKS));
    assertTrue(Files.exists(child.resolve("foo")));
  }

  /** testsuite.go checkFileFromLowerLayer ("MoveFileFromLowerLayer"). */
  @Test
  void aFileMovedFromALowerLayer() throws Exception {
    checkSnapshots(
        r,
        ops(
            dir("dir1", 0700),
            file("dir1/f1", "Hello", 0644),
            dir("dir2", 0700),
            file("dir2/f2", "...", 0644)),
        ops(
            dir("dir3", 0700),
            file("dir3/f1", "Hello", 0644),
            removeAll("dir1"),
            link("dir2/f2", "dir3/f2"),
            removeAll("dir2/f2")));
  }

  /** issues.go checkDirectoryPermissionOnCommit (docker#27298). */
  @Test
  void directoryPermissionsSurviveCommit() throws Exception {
    checkSnapshots(
        r,
        ops(
            dir("dir1", 0700),
            dir("dir2", 0700),
            dir("dir3", 0700),
            dir("dir4", 0700),
            file("dir4/f1", "...", 0644),
            dir("dir5", 0700),
            file("dir5/f1", "...", 0644),
            chown("dir1", 1, 1),
            chown("dir2", 1, 1),
            chown("dir3", 1, 1),
            chown("dir5", 1, 1),
            chown("dir5/f1", 1, 1)),
        ops(chown("dir2", 0, 0), removeAll("dir3"), chown("dir4", 1, 1), chown("dir4/f1", 1, 1)),
        ops(
            dir("dir3", 0700),
            chown("dir3", 1, 1),
            removeAll("dir5"),
            dir("dir5", 0700),
            chown("dir5", 1, 1)));
  }

  /**
   * issues.go checkLayerFileUpdate (docker#21555, run once here), checkRemoveDirectoryInLowerLayer
   * (docker#25244), checkChown (docker#24913, docker#28391).
   */
  @Test
  void formerLayeringIssues() throws Exception {
    checkSnapshots(
        r,
        ops(
            dir("etc", 0700),
            file("etc/hosts", "mydomain 10.0.0.1", 0644),
            file("etc/profile", "PATH=/usr/bin", 0644)),
        ops(
            file("etc/hosts", "mydomain 10.0.0.2", 0644),
            file("etc/profile", "PATH=/usr/bin", 0666),
            dir("root", 0700),
            file("root/.bashrc", "PATH=/usr/sbin:/usr/bin", 0644)));
    checkSnapshots(
        r,
        ops(dir("lib", 0700), file("lib/hidden", "", 0644)),
        ops(removeAll("lib"), dir("lib", 0700), file("lib/not-hidden", "", 0644)),
        file("lib/newfile", "", 0644));
    checkSnapshots(
        r,
        ops(
            dir("opt", 0700),
            dir("opt/a", 0700),
            dir("opt/a/b", 0700),
            file("opt/a/b/file.txt", "hello", 0644)),
        ops(
            chown("opt", 1, 1),
            chown("opt/a", 1, 1),
            chown("opt/a/b", 1, 1),
            chown("opt/a/b/file.txt", 1, 1)));
  }

  /** testsuite.go checkSnapshotterViewReadonly (containerd#1368: a real mount, not options). */
  @Test
  void aViewIsReadOnly() throws Exception {
    Path p = r.mount(r.prepare("preparing", "", OPT), "preparing");
    file("kept", "kept\n", 0644).apply(p);
    r.unmount(p);
    r.commit("committed", "preparing", OPT);

    for (String[] v : new String[][] {{"view", "committed"}, {"empty-view", ""}}) {
      List<MountProto.Mount> m = r.view(v[0], v[1], OPT);
      for (MountProto.Mount x : m) {
        assertTrue(
            x.getOptionsList().contains("ro")
                || x.getOptionsList().stream().noneMatch(o -> o.startsWith("upperdir=")),
            v[0] + ": a read-only mount: " + x);
      }
      Path target = r.mount(m, v[0] + "-mount");
      FileSystemException e =
          assertThrows(
              FileSystemException.class,
              () -> Files.writeString(target.resolve("testfile"), "testcontent"),
              "write into the view " + v[0]);
      assertEquals("Read-only file system", e.getReason(), v[0] + ": EROFS");
      assertFalse(Files.exists(target.resolve("testfile")));
      r.unmount(target);
      r.remove(v[0]);
    }
    Path child = r.mount(r.prepare("child", "committed", OPT), "child");
    assertEquals("kept\n", Files.readString(child.resolve("kept")));
    assertFalse(Files.exists(child.resolve("testfile")), "nothing went through the view");
    r.unmount(child);
    r.remove("child");
    r.remove("committed");
  }

  /**
   * testsuite.go checkUpdate on baseTestSnapshots: times, kinds and parents of every kind; labels
   * replaced (no mask, "labels") or changed one by one ("labels.NAME"); other fields immutable.
   */
  @Test
  void updateLabels() throws Exception {
    Instant t1 = Instant.now();
    r.prepare("c1-a", "", OPT);
    r.commit("c1", "c1-a", OPT);
    r.prepare("c2-a", "c1", OPT);
    r.commit("c2", "c2-a", OPT);
    r.prepare("a1", "c2", OPT);
    r.prepare("a2", "", OPT);
    r.view("v1", "c2", OPT);
    r.view("v2", "", OPT);
    Instant t2 = Instant.now();

    String[][] cases = {
      {"c1", "COMMITTED", ""},
      {"c2", "COMMITTED", "c1"},
      {"a1", "ACTIVE", "c2"},
      {"a2", "ACTIVE", ""},
      {"v1", "VIEW", "c2"},
      {"v2", "VIEW", ""},
    };
    for (String[] tc : cases) {
      String name = tc[0];
      Kind kind = Kind.valueOf(tc[1]);
      String parent = tc[2];
      SnapshotsProto.Info st = r.stat(name);
      Instant created = instant(st.getCreatedAt());
      assertFalse(created.isBefore(t1) || created.isAfter(t2), name + ": created " + created);
      assertEquals(st.getCreatedAt(), st.getUpdatedAt(), name + ": updated = created");
      assertEquals(kind, st.getKind(), name);
      assertEquals(parent, st.getParent(), name);
      assertEquals(name, st.getName(), name);

      String rootTime = Instant.now().toString();
      Map<String, String> expected = Map.of("l1", "v1", "l2", "v2", "l3", "v3", GC_ROOT, rootTime);
      Instant u1 = Instant.now();
      SnapshotsProto.Info up =
          r.update(
              st.toBuilder()
                  .setParent("doesnotexist")
                  .clearLabels()
                  .putAllLabels(expected)
                  .build());
      Instant u2 = Instant.now();
      assertEquals(st.getCreatedAt(), up.getCreatedAt(), name + ": created stays");
      Instant updated = instant(up.getUpdatedAt());
      assertFalse(updated.isBefore(u1) || updated.isAfter(u2), name + ": updated " + updated);
      assertEquals(kind, up.getKind(), name);
      assertEquals(parent, up.getParent(), name + ": the parent does not change");
      assertEquals(name, up.getName(), name);
      assertEquals(expected, up.getLabelsMap(), name);
      assertEquals(up, r.stat(name), name + ": Stat sees the update");

      up =
          r.update(
              up.toBuilder().clearLabels().putLabels("l1", "updated").putLabels("l4", "v4").build(),
              "labels.l1",
              "labels.l2");
      assertEquals(Map.of("l1", "updated", "l3", "v3", GC_ROOT, rootTime), up.getLabelsMap());

      expected = Map.of("l4", "v4", GC_ROOT, rootTime);
      up = r.update(up.toBuilder().clearLabels().putAllLabels(expected).build(), "labels");
      assertEquals(expected, up.getLabelsMap(), name);
      assertEquals(expected, r.stat(name).getLabelsMap(), name);

      SnapshotsProto.Info bad = up.toBuilder().setParent("doesnotexist").build();
      assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> r.update(bad, "parent")), name);
      assertEquals(parent, r.stat(name).getParent(), name);
    }
    SnapshotsProto.Info missing = SnapshotsProto.Info.newBuilder().setName("missing").build();
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.update(missing)));
  }

  /**
   * testsuite.go checkSnapshotterBasic's Walk and issues.go checkStatInWalk: List streams every
   * snapshot (more than one message's worth here), each as Stat gives it.
   */
  @Test
  void listStreamsEverySnapshot() throws Exception {
    r.prepare("c1-a", "", OPT);
    r.commit("c1", "c1-a", OPT);
    r.prepare("c2-a", "c1", OPT);
    r.commit("c2", "c2-a", OPT);
    r.prepare("a1", "c2", OPT);
    int views = 150;
    for (int i = 0; i < views; i++) {
      r.view("v" + i, i % 2 == 0 ? "c2" : "c1", Map.of("i", Integer.toString(i)));
    }
    List<SnapshotsProto.ListSnapshotsResponse> messages = new ArrayList<>();
    r.stub
        .list(SnapshotsProto.ListSnapshotsRequest.getDefaultInstance())
        .forEachRemaining(messages::add);
    assertTrue(messages.size() > 1, "streamed in " + messages.size() + " message(s)");
    Map<String, SnapshotsProto.Info> all = new HashMap<>();
    for (var m : messages) {
      for (SnapshotsProto.Info i : m.getInfoList()) {
        assertTrue(all.put(i.getName(), i) == null, "listed twice: " + i.getName());
      }
    }
    assertEquals(views + 3, all.size());
    for (SnapshotsProto.Info i : all.values()) {
      assertEquals(r.stat(i.getName()), i, "List and Stat agree on " + i.getName());
    }
    assertEquals(Kind.COMMITTED, all.get("c2").getKind());
    assertEquals("c1", all.get("c2").getParent());
    assertEquals(Kind.ACTIVE, all.get("a1").getKind());
    assertEquals("c2", all.get("a1").getParent());
    assertEquals(Kind.VIEW, all.get("v7").getKind());
    assertEquals("c1", all.get("v7").getParent());
    assertEquals(Map.of("i", "7"), all.get("v7").getLabelsMap());
  }

  /**
   * Usage (containerd's snapshotters: the blocks and inodes of the snapshot's own directory, what
   * it adds over its parent on overlay2, its whole tree on vfs as containerd's native; a view adds
   * none).
   */
  @Test
  void usageCountsAddedBytes() throws Exception {
    int big = 256 * 1024;
    int small = 16 * 1024;
    Path p = r.mount(r.prepare("base-a", "", OPT), "base");
    SnapshotsProto.UsageResponse empty = r.usage("base-a");
    // the blocks and inode of the layer's directory alone, as containerd's overlayfs reports
    assertTrue(empty.getSize() <= 4096, "nothing written yet: " + empty);
    assertEquals(1, empty.getInodes(), "nothing written yet: " + empty);
    Files.write(p.resolve("big"), new byte[big]);
    Files.createDirectory(p.resolve("d"));
    Files.write(p.resolve("d/small"), new byte[small]);
    SnapshotsProto.UsageResponse u = r.usage("base-a");
    assertTrue(u.getSize() >= big + small, "active: " + u);
    assertTrue(u.getSize() < big + small + 64 * 1024, "active: " + u);
    assertTrue(u.getInodes() >= 3, "active: " + u);
    r.unmount(p);
    r.commit("base", "base-a", OPT);
    SnapshotsProto.UsageResponse c = r.usage("base");
    assertTrue(c.getSize() >= big + small && c.getSize() < big + small + 64 * 1024, "" + c);

    Path child = r.mount(r.prepare("child", "base", OPT), "child");
    Files.write(child.resolve("added"), new byte[small]);
    SnapshotsProto.UsageResponse cu = r.usage("child");
    assertTrue(cu.getSize() >= small, "child: " + cu);
    if (layerIsWholeTree()) {
      // the layer's directory is its whole tree, as containerd's native snapshotter reports
      assertTrue(cu.getSize() >= big + 2L * small, "the child holds its parent's: " + cu);
      assertTrue(cu.getInodes() >= 5, "child: " + cu);
    } else {
      assertTrue(cu.getSize() < big, "the parent's bytes are not the child's: " + cu);
      assertTrue(cu.getInodes() >= 1 && cu.getInodes() < 4, "child: " + cu);
    }
    r.unmount(child);

    r.view("view", "base", OPT);
    assertEquals(0, r.usage("view").getSize(), "a view adds nothing");
    assertEquals(Status.Code.NOT_FOUND, code(() -> r.usage("missing")));
  }

  /**
   * A second server on the same data-root, the first closed (testsuite.go closeTwice: closing twice
   * is fine), serves the same snapshots: Stat, List, the trees behind Mounts, new children.
   */
  @Test
  void aRestartedServerKeepsTheSnapshots() throws Exception {
    Path p = r.mount(r.prepare("base-a", "", OPT), "base");
    file("f", "one\n", 0644).apply(p);
    r.unmount(p);
    r.commit("base", "base-a", Map.of("k", "v"));
    Path a = r.mount(r.prepare("active", "base", OPT), "active");
    file("g", "two\n", 0600).apply(a);
    r.unmount(a);
    r.view("view", "base", OPT);
    Map<String, SnapshotsProto.Info> before = r.list();

    r.restart();

    assertEquals(before, r.list());
    assertEquals(Map.of("k", "v"), r.stat("base").getLabelsMap());
    Path a2 = r.mount(r.mounts("active"), "active2");
    assertEquals("one\n", Files.readString(a2.resolve("f")));
    assertEquals("two\n", Files.readString(a2.resolve("g")));
    r.unmount(a2);
    Path v2 = r.mount(r.mounts("view"), "view2");
    assertEquals("one\n", Files.readString(v2.resolve("f")));
    assertFalse(Files.exists(v2.resolve("g")));
    r.unmount(v2);
    assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> r.remove("base")));
    r.commit("top", "active", OPT);
    Path t = r.mount(r.prepare("next", "top", OPT), "next");
    assertEquals("two\n", Files.readString(t.resolve("g")));
    r.unmount(t);
    for (String k : List.of("next", "view", "top", "base")) {
      r.remove(k);
    }
    assertEquals(List.of(), r.snapshotLayers());
  }

  // ------------------------------------------------------------------ the suite's checkSnapshots

  /**
   * helpers.go checkSnapshots: a chain of snapshots, each made by applying LAYERS[i] to a snapshot
   * prepared on the previous one and committed; the same changes applied to one plain directory;
   * each committed snapshot, seen through a view, equals that directory as it was then. Returns the
   * committed names.
   */
  private static List<String> checkSnapshots(Rig r, Op... layers) throws Exception {
    Path flat = Files.createDirectory(r.work().resolve("flat" + r.seq++));
    List<String> names = new ArrayList<>();
    String parent = "";
    for (Op layer : layers) {
      String name = "layer-" + r.seq++;
      List<MountProto.Mount> m = r.prepare(name + "-prepare", parent, OPT);
      Path target = r.mount(m, name + "-prepare");
      layer.apply(target);
      r.unmount(target);
      r.commit(name, name + "-prepare", OPT);
      layer.apply(flat);

      Path view = r.mount(r.view(name + "-view", name, OPT), name + "-view");
      try {
        TreeManifest.assertSame(TreeManifest.of(flat, TREE), TreeManifest.of(view, TREE));
      } finally {
        r.unmount(view);
      }
      r.remove(name + "-view");
      names.add(name);
      parent = name;
    }
    return names;
  }

  /** The tree at TARGET is what OPS make of an empty directory. */
  private static void assertTree(Rig r, Path target, Op ops) throws Exception {
    Path flat = Files.createDirectory(r.work().resolve("flat" + r.seq++));
    ops.apply(flat);
    TreeManifest.assertSame(TreeManifest.of(flat, TREE), TreeManifest.of(target, TREE));
  }

  // ------------------------------------------------------------------ changes, as fstest's

  @FunctionalInterface
  interface Op {
    void apply(Path root) throws IOException;
  }

  static Op ops(Op... ops) {
    return root -> {
      for (Op o : ops) {
        o.apply(root);
      }
    };
  }

  static Op file(String path, String content, int mode) {
    return root -> {
      Path p = root.resolve(path);
      Files.writeString(p, content, StandardCharsets.UTF_8);
      Files.setAttribute(p, "unix:mode", mode);
    };
  }

  static Op dir(String path, int mode) {
    return root -> {
      Path p = root.resolve(path);
      if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectory(p);
      }
      Files.setAttribute(p, "unix:mode", mode);
    };
  }

  static Op removeAll(String path) {
    return root -> {
      Path p = root.resolve(path);
      if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        return;
      }
      try (Stream<Path> s = Files.walk(p)) {
        for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(q);
        }
      }
    };
  }

  static Op chown(String path, int uid, int gid) {
    return root -> {
      Path p = root.resolve(path);
      Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
      Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    };
  }

  static Op link(String existing, String link) {
    return root -> Files.createLink(root.resolve(link), root.resolve(existing));
  }

  // ------------------------------------------------------------------ the rig

  interface Call {
    void run() throws Exception;
  }

  /** The gRPC status a call fails with. */
  static Status.Code code(Call call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    } catch (Exception e) {
      throw new AssertionError("expected a gRPC status, got " + e, e);
    }
    return fail("the call succeeded; a refusal was expected");
  }

  static Instant instant(Timestamp t) {
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
  }

  /**
   * An engine on a data-root (a fresh one under /tmp unless given), the server on a short socket
   * path in a fresh directory under /tmp, a client connected; the mounts made and the cases'
   * scratch directories ({@link #work}), undone by {@link #empty} and on close.
   */
  static final class Rig implements AutoCloseable {
    /** The mount type prefix containerd gives to {@code mount.fuse3}. */
    private static final String FUSE3 = "fuse3.";

    final String driver;
    final Path dir;
    final Path dataRoot;
    final Path socket;
    final Deque<Path> mounted = new ArrayDeque<>();
    int seq;
    Engine engine;
    SnapshotterServer server;
    UnixGrpcChannel connection;
    SnapshotsGrpc.SnapshotsBlockingStub stub;

    Rig(String driver, Path dataRoot) throws IOException {
      this.driver = driver;
      this.dir = Files.createTempDirectory(Path.of("/tmp"), "ss");
      this.dataRoot = dataRoot != null ? dataRoot : dir.resolve("root");
      this.socket = dir.resolve("s.sock");
      try {
        open();
      } catch (IOException | RuntimeException | Error e) {
        close();
        throw e;
      }
    }

    private void open() throws IOException {
      engine = Engine.open(EngineConfig.of(dataRoot, driver));
      server = SnapshotterServer.start(engine, socket);
      connection = UnixGrpcChannel.open(socket);
      stub =
          SnapshotsGrpc.newBlockingStub(connection.channel())
              .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private void shut() throws IOException {
      if (connection != null) {
        connection.close();
        connection = null;
      }
      if (server != null) {
        server.close();
        server.close(); // closeTwice
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the socket went");
        server = null;
      }
      if (engine != null) {
        engine.close();
        engine = null;
      }
    }

    /** The current case's scratch directory (made when missing). */
    Path work() throws IOException {
      return Files.createDirectories(dir.resolve("work"));
    }

    /**
     * Ready for the next case: unmounts what is mounted, removes every snapshot (children first),
     * checks that no layer of a snapshot stays, and deletes the scratch directory.
     */
    void empty() throws IOException {
      while (!mounted.isEmpty()) {
        run(List.of("umount", mounted.pop().toString()));
      }
      Map<String, SnapshotsProto.Info> left = list();
      while (!left.isEmpty()) {
        Set<String> parents = new HashSet<>();
        left.values().forEach(i -> parents.add(i.getParent()));
        for (String key : left.keySet()) {
          if (!parents.contains(key)) {
            remove(key);
          }
        }
        Map<String, SnapshotsProto.Info> now = list();
        assertTrue(now.size() < left.size(), "snapshots that do not go: " + now.keySet());
        left = now;
      }
      assertEquals(List.of(), snapshotLayers(), "every layer went with its snapshot");
      run(List.of("rm", "-rf", "--one-file-system", dir.resolve("work").toString()));
    }

    /** Closes server and engine and starts both again on the same data-root. */
    void restart() throws IOException {
      shut();
      open();
    }

    List<MountProto.Mount> prepare(String key, String parent, Map<String, String> labels) {
      return stub.prepare(
              SnapshotsProto.PrepareSnapshotRequest.newBuilder()
                  .setSnapshotter("layerd")
                  .setKey(key)
                  .setParent(parent)
                  .putAllLabels(labels)
                  .build())
          .getMountsList();
    }

    List<MountProto.Mount> view(String key, String parent, Map<String, String> labels) {
      return stub.view(
              SnapshotsProto.ViewSnapshotRequest.newBuilder()
                  .setSnapshotter("layerd")
                  .setKey(key)
                  .setParent(parent)
                  .putAllLabels(labels)
                  .build())
          .getMountsList();
    }

    List<MountProto.Mount> mounts(String key) {
      return stub.mounts(
              SnapshotsProto.MountsRequest.newBuilder()
                  .setSnapshotter("layerd")
                  .setKey(key)
                  .build())
          .getMountsList();
    }

    void commit(String name, String key, Map<String, String> labels) {
      stub.commit(
          SnapshotsProto.CommitSnapshotRequest.newBuilder()
              .setSnapshotter("layerd")
              .setName(name)
              .setKey(key)
              .putAllLabels(labels)
              .build());
    }

    void remove(String key) {
      stub.remove(
          SnapshotsProto.RemoveSnapshotRequest.newBuilder()
              .setSnapshotter("layerd")
              .setKey(key)
              .build());
    }

    SnapshotsProto.Info stat(String key) {
      return stub.stat(
              SnapshotsProto.StatSnapshotRequest.newBuilder()
                  .setSnapshotter("layerd")
                  .setKey(key)
                  .build())
          .getInfo();
    }

    SnapshotsProto.Info update(SnapshotsProto.Info info, String... paths) {
      SnapshotsProto.UpdateSnapshotRequest.Builder b =
          SnapshotsProto.UpdateSnapshotRequest.newBuilder().setSnapshotter("layerd").setInfo(info);
      if (paths.length > 0) {
        b.setUpdateMask(FieldMask.newBuilder().addAllPaths(List.of(paths)));
      }
      return stub.update(b.build()).getInfo();
    }

    Map<String, SnapshotsProto.Info> list() {
      Map<String, SnapshotsProto.Info> all = new HashMap<>();
      Iterator<SnapshotsProto.ListSnapshotsResponse> it =
          stub.list(
              SnapshotsProto.ListSnapshotsRequest.newBuilder().setSnapshotter("layerd").build());
      it.forEachRemaining(m -> m.getInfoList().forEach(i -> all.put(i.getName(), i)));
      return all;
    }

    SnapshotsProto.UsageResponse usage(String key) {
      return stub.usage(
          SnapshotsProto.UsageRequest.newBuilder().setSnapshotter("layerd").setKey(key).build());
    }

    /** The engine's layers of containerd's snapshots. */
    List<String> snapshotLayers() {
      List<String> out = new ArrayList<>();
      for (var m : engine.store().all()) {
        if (m.id().startsWith(Snapshotter.LAYER_PREFIX)) {
          out.add(m.id());
        }
      }
      return out;
    }

    /** Performs MOUNTS on a new directory NAME as containerd's mount.All does; returns it. */
    Path mount(List<MountProto.Mount> mounts, String name) throws IOException {
      assertFalse(mounts.isEmpty(), "no mounts for " + name);
      Path target = Files.createDirectory(work().resolve("m-" + name.replace('/', '_')));
      for (MountProto.Mount m : mounts) {
        run(m.getType().startsWith(FUSE3) ? fuseHelper(m, target) : mountCommand(m, target));
        mounted.push(target);
      }
      return target;
    }

    /** mount(8) for one mount. */
    private static List<String> mountCommand(MountProto.Mount m, Path target) {
      List<String> argv = new ArrayList<>(List.of("mount"));
      if (!m.getType().equals("bind")) {
        argv.add("-t");
        argv.add(m.getType());
      } else if (!m.getOptionsList().contains("bind") && !m.getOptionsList().contains("rbind")) {
        argv.add("--bind");
      }
      if (m.getOptionsCount() > 0) {
        argv.add("-o");
        argv.add(String.join(",", m.getOptionsList()));
      }
      argv.add(m.getSource());
      argv.add(target.toString());
      return argv;
    }

    /**
     * A FUSE type {@code fuse3.HELPER}, as containerd's {@code Mount.mountWithHelper} mounts it:
     * {@code mount.fuse3 SOURCE TARGET -o OPTION... -t HELPER}.
     */
    private static List<String> fuseHelper(MountProto.Mount m, Path target) {
      List<String> argv = new ArrayList<>(List.of("mount.fuse3", m.getSource(), target.toString()));
      for (String o : m.getOptionsList()) {
        argv.addAll(List.of("-o", o));
      }
      argv.addAll(List.of("-t", m.getType().substring(FUSE3.length())));
      return argv;
    }

    void unmount(Path target) throws IOException {
      while (mounted.remove(target)) {
        run(List.of("umount", target.toString()));
      }
    }

    @Override
    public void close() throws IOException {
      try {
        while (!mounted.isEmpty()) {
          Path t = mounted.pop();
          run(List.of("umount", "-l", t.toString()));
        }
        shut();
      } finally {
        run(List.of("rm", "-rf", "--one-file-system", dir.toString()));
      }
    }

    private static int waitFor(Process p) throws IOException {
      try {
        return p.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }

    private static void run(List<String> argv) throws IOException {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (waitFor(p) != 0) {
        throw new IOException(String.join(" ", argv) + ": " + out.strip());
      }
    }
  }
}
