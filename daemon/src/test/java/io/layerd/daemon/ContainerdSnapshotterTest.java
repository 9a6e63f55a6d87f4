package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.daemon.containerd.SnapshotterServerAccess;
import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import io.layerd.testkit.Tiers;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * layerd as containerd's proxy snapshotter, end to end: a real containerd (its config naming
 * layerd's socket under [proxy_plugins]) imports images onto layerd's layers, runs a container on
 * them, and every image's tree, mounted as containerd mounts it, equals the one containerd's own
 * snapshotter gives. Removing the images lets containerd's garbage collection remove every
 * snapshot, and with them the engine's layers. Debian 12's containerd 1.6 on every driver (against
 * {@code native}); containerd 2.1 on the config {@code layerd config containerd} prints (against
 * {@code overlayfs}).
 */
class ContainerdSnapshotterTest {
  private static final String BUSYBOX = "busybox:1.38.0-glibc";

  /** The images (an OCI layout and docker-save tars: whiteouts, opaque directories, 14 layers). */
  private static final List<String> IMAGES =
      List.of(BUSYBOX, "docker.io/library/whiteout:latest", "docker.io/library/dive-test:latest");

  /** Starts a containerd that knows layerd's snapshotter on {@code snapSocket}. */
  private interface RigStarter {
    ContainerdRig start(Path dir, Path snapSocket, Path dataRoot) throws IOException;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"overlay2", "vfs", "fuse-overlayfs", "btrfs"})
  @Tag(Tiers.ROOT)
  void containerdRunsOnLayerdAndSeesWhatNativeSees(String driver) throws Exception {
    Require.root();
    for (String c : List.of("containerd", "ctr", "runc", "containerd-shim-runc-v2")) {
      Require.command(c);
    }
    importRunCompareCollect(
        driver, (d, s, r) -> ContainerdRig.start(d, "layerd", s), "native", false);
  }

  /**
   * containerd 2.1.9 on the generated config: {@code ctr images import --snapshotter layerd}
   * unpacks through the transfer service (the config's unpack entry) with layerd's differ (every
   * image layer applied by layerd, diffIDs as containerd checks them against the image's config),
   * also a zstd OCI archive, and {@code ctr run} runs on it; {@code ctr snapshots diff} of a
   * changed container snapshot goes to layerd's differ, whose layer holds what the walking differ's
   * holds on overlayfs.
   */
  @EndToEndTest
  void containerd21OnTheGeneratedConfigRunsOnLayerd() throws Exception {
    Require.root();
    Require.command("runc");
    ModernClients clients = ModernClients.get();
    importRunCompareCollect(
        "overlay2",
        (d, s, r) -> ContainerdRig.startWithLayerd(d, clients, s, r),
        "overlayfs",
        true);
  }

  /** The images of {@link #theTransferRouteFailsNoLayerTheWalkingDifferServes}. */
  private static final String READ = "docker.io/library/layerd-read:1";

  private static final String HANDED = "docker.io/library/layerd-handed:1";

  /**
   * The transfer service behind {@code ctr images import} asks layerd's differ alone (no chain),
   * and layerd serves every layer the walking differ would: a blob that is not in the blob
   * directory layerd was told of (here a directory that is not containerd's) is read through
   * containerd's content service into the pipeline, and a layer whose media type containerd leaves
   * to its stream processors ({@code +gzip+custom}: the walking differ decodes it as gzip, the last
   * of its sorted suffixes) is handed to containerd's diff service, whose walking differ applies it
   * into layerd's snapshot. So is a layer for another snapshotter's mounts, when its unpack entry
   * names layerd's differ too.
   */
  @EndToEndTest
  void theTransferRouteFailsNoLayerTheWalkingDifferServes() throws Exception {
    Require.root();
    ModernClients clients = ModernClients.get();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    Path snapSocket = dir.resolve("snap.sock");
    Path dataRoot = dir.resolve("layerd");
    Settings settings =
        Settings.of(dataRoot, dir.resolve("gd.sock"), "overlay2")
            .withContainerdSocket(snapSocket)
            .withContainerd(
                Files.createDirectories(dir.resolve("not-containerds-root")),
                dir.resolve("c/containerd.sock"));
    // overlayfs's unpack entry names layerd's differ too: it is then given mounts not its own
    UnaryOperator<String> overlayfsToo =
        c -> {
          String entry = "snapshotter = 'overlayfs'}";
          assertTrue(c.contains(entry), c);
          return c.replace(entry, "snapshotter = 'overlayfs', differ = 'layerd-diff'}");
        };
    try (Daemon layerd = Daemon.start(settings);
        ContainerdRig rig =
            ContainerdRig.startWithLayerd(
                dir.resolve("c"), clients, snapSocket, dataRoot, overlayfsToo)) {
      TarBuilder read = TarBuilder.create().dir("etc").file("etc/read", "content service\n");
      TarBuilder handed = TarBuilder.create().dir("etc").file("etc/handed", "walking differ\n");
      String readId =
          OciArchive.single(
              READ,
              "application/vnd.oci.image.layer.v1.tar+gzip",
              read.gzip(),
              read.build(),
              dir.resolve("read.tar"));
      OciArchive.single(
          HANDED,
          "application/vnd.oci.image.layer.v1.tar+gzip+custom",
          handed.gzip(),
          handed.build(),
          dir.resolve("handed.tar"));
      for (String image : List.of("read.tar", "handed.tar")) {
        rig.ok("images", "import", "--snapshotter", "layerd", dir.resolve(image).toString());
      }
      rig.ok("images", "rm", "--sync", READ);
      rig.ok("images", "import", "--snapshotter", "overlayfs", dir.resolve("read.tar").toString());
      assertEquals(
          "content service\n",
          mounted(rig, READ, null, "overlayfs", "c0", dir.resolve("m0"), t -> read(t, "etc/read")));
      rig.ok("images", "import", "--snapshotter", "layerd", dir.resolve("read.tar").toString());
      // layerd's pipeline applied the first (its layer records the diffID), not the second.
      List<String> applied = new ArrayList<>();
      for (var m : layerd.engine().store().all()) {
        if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX) && m.diffId() != null) {
          applied.add(m.diffId());
        }
      }
      assertEquals(List.of(readId), applied);
      assertEquals(
          "content service\n",
          mounted(rig, READ, null, "layerd", "c1", dir.resolve("m1"), t -> read(t, "etc/read")));
      assertEquals(
          "walking differ\n",
          mounted(
              rig, HANDED, null, "layerd", "c2", dir.resolve("m2"), t -> read(t, "etc/handed")));
    } finally {
      ContainerdRig.unmountUnder(dir);
      deleteTree(dir);
    }
  }

  private static String read(Path root, String file) throws IOException {
    return Files.readString(root.resolve(file));
  }

  /** Where an image is imported a second time. */
  private static final String OTHER_NAMESPACE = "layerd-test-again";

  /** The zstd OCI archive (an arm64 image, named by the test: its index names nothing). */
  private static final String ZSTD = "docker.io/library/dive-test-zstd:latest";

  /**
   * Imports, runs, compares with {@code reference}'s trees, and has containerd collect every layer.
   * With {@code today}: containerd 2.1's steps too, the zstd archive and an import into a second
   * namespace (containerd 1.6's ctr import unpacks without containerd.io/snapshot.ref).
   */
  @SuppressWarnings("try") // closeLast only unmounts the btrfs, after the daemon stopped
  private static void importRunCompareCollect(
      String driver, RigStarter starter, String reference, boolean today) throws Exception {
    List<String> more = today ? List.of(ZSTD) : List.of();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    Path snapSocket = dir.resolve("snap.sock");
    // btrfs: the data-root on a loop-mounted btrfs
    LoopBtrfs btrfs = driver.equals("btrfs") ? LoopBtrfs.create(false, null) : null;
    Path dataRoot = btrfs != null ? btrfs.mountPoint().resolve("layerd") : dir.resolve("layerd");
    // containerd's root and socket as the rig makes them: layerd's differ reads and writes there,
    // its layers no larger than the walking differ's (the docker suites run the default, fast)
    Settings settings =
        Settings.of(dataRoot, dir.resolve("gd.sock"), driver)
            .withContainerdSocket(snapSocket)
            .withContainerd(dir.resolve("c/root"), dir.resolve("c/containerd.sock"))
            .withDiffCompression(DiffCompression.SMALL);
    try (LoopBtrfs closeLast = btrfs;
        Daemon layerd = Daemon.start(settings);
        ContainerdRig rig = starter.start(dir.resolve("c"), snapSocket, dataRoot)) {
      assertTrue(rig.ok("plugins", "ls").out().contains("layerd"), "containerd lists the proxy");
      List<String> images = new ArrayList<>(IMAGES);
      images.addAll(more);
      String zstdChain = null;
      for (String snapshotter : List.of("layerd", reference)) {
        rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), snapshotter);
        rig.importImage(TestData.file("images/ggcr-whiteout-docker-save.tar"), snapshotter);
        rig.importImage(TestData.file("images/dive-test-docker-image.tar"), snapshotter);
        if (more.contains(ZSTD)) {
          Path named = dir.resolve("zstd.tar");
          zstdChain =
              OciArchive.named(TestData.file("images/dive-test-oci-zstd-image.tar"), ZSTD, named);
          rig.ok(
              "images",
              "import",
              "--platform",
              "linux/arm64",
              "--snapshotter",
              snapshotter,
              named.toString());
        }
      }
      if (today) {
        // Every image layer was applied by layerd's differ: the engine recorded its diffID.
        List<String> applied = new ArrayList<>();
        for (var m : layerd.engine().store().all()) {
          if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX) && m.diffId() != null) {
            applied.add(m.diffId());
          }
        }
        String committed = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out();
        long count = committed.lines().filter(l -> l.contains("Committed")).count();
        assertEquals(count, applied.size(), "layers applied by layerd:\n" + committed);
        assertDiffsAgree(rig, dir, reference);
      }
      if (today) {
        // An import into another namespace finds every layer committed
        // (containerd.io/snapshot.ref): layerd makes no layer, containerd applies nothing.
        int layers = snapshotLayers(layerd).size();
        rig.okIn(
            OTHER_NAMESPACE,
            "images",
            "import",
            "--snapshotter",
            "layerd",
            TestData.file("images/dive-test-docker-image.tar").toString());
        assertEquals(layers, snapshotLayers(layerd).size(), "a re-import applies nothing");
      }

      String out =
          rig.run(
              BUSYBOX, "layerd", "run-" + driver, "sh", "-c", "echo hello; echo x > /f; cat /f");
      assertEquals("hello\nx\n", out);

      int n = 0;
      for (String image : images) {
        // An arm64 image cannot be a container here: its tree is a view of its top snapshot.
        String view = image.equals(ZSTD) ? zstdChain : null;
        TreeManifest ours = tree(rig, image, view, "layerd", "ours" + n, dir.resolve("m" + n));
        TreeManifest theirs = tree(rig, image, view, reference, "theirs" + n, dir.resolve("n" + n));
        TreeManifest.assertSame(theirs, ours);
        n++;
      }

      // containerd's garbage collection removes the snapshots, and layerd the layers
      for (String id : rig.ok("containers", "ls", "-q").out().strip().split("\\s+")) {
        if (!id.isEmpty()) {
          rig.ok("containers", "rm", id);
        }
      }
      for (String image : rig.images()) {
        rig.ok("images", "rm", "--sync", image);
      }
      if (today) {
        rig.okIn(OTHER_NAMESPACE, "images", "rm", "--sync", "docker.io/library/dive-test:latest");
      }
      long deadline = System.nanoTime() + 30_000_000_000L;
      List<String> left;
      while (true) {
        left = snapshotLayers(layerd);
        String listed = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out().strip();
        if (left.isEmpty() && listed.lines().count() <= 1) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError("layers left after the images went: " + left + "\n" + listed);
        }
        Thread.sleep(200);
      }
    } finally {
      ContainerdRig.unmountUnder(dir);
      deleteTree(dir);
    }
  }

  /** The image's tree as containerd mounts it (see {@link #mounted}). */
  private static TreeManifest tree(
      ContainerdRig rig, String image, String view, String snapshotter, String id, Path target)
      throws IOException, InterruptedException {
    // Directory mtimes aside: containerd's native snapshotter copies the parent's tree for a
    // container and sets a directory's times before filling it, so its directories show the
    // copy's time; layerd's keep the image's.
    return mounted(
        rig,
        image,
        view,
        snapshotter,
        id,
        target,
        t ->
            TreeManifest.of(
                t,
                TreeManifest.Options.builder()
                    .ignoreRootAttributes()
                    .ignoreDirectoryMtimes()
                    .build()));
  }

  /** What is read from a mounted tree. */
  private interface MountedReader<T> {
    T read(Path root) throws IOException;
  }

  /**
   * {@code reader}'s result on the tree containerd mounts: a container's snapshot of {@code image}
   * prepared with {@code ctr containers create} (or a view of the committed snapshot {@code view},
   * when not null), mounted with the mount command {@code ctr snapshots mounts} prints.
   */
  private static <T> T mounted(
      ContainerdRig rig,
      String image,
      String view,
      String snapshotter,
      String id,
      Path target,
      MountedReader<T> reader)
      throws IOException, InterruptedException {
    if (view == null) {
      rig.ok("containers", "create", "--snapshotter", snapshotter, image, id);
    } else {
      rig.ok("snapshots", "--snapshotter", snapshotter, "view", id, view);
    }
    Files.createDirectories(target);
    String cmd =
        rig.ok("snapshots", "--snapshotter", snapshotter, "mounts", target.toString(), id)
            .out()
            .strip();
    List<String> argv = new ArrayList<>(List.of(cmd.split(" ")));
    assertEquals("mount", argv.get(0), cmd);
    // "mount -t TYPE SOURCE TARGET -o OPTIONS"; a FUSE type ("fuse3.HELPER") is mounted the way
    // containerd's mount.fuse3 does it: the helper itself, given the options and the target.
    if (argv.size() == 7 && argv.get(2).startsWith("fuse3.")) {
      argv = List.of(argv.get(2).substring("fuse3.".length()), "-o", argv.get(6), argv.get(4));
    }
    run(argv);
    try {
      return reader.read(target);
    } finally {
      run(List.of("umount", target.toString()));
      if (view != null) {
        // containerd's garbage collection may have taken it already: it has no lease
        rig.ctr("snapshots", "--snapshotter", snapshotter, "rm", id);
      }
    }
  }

  /**
   * The same changes made in a container snapshot of busybox on layerd and on the reference, then
   * {@code ctr snapshots diff} (containerd's diff service: layerd's differ first for layerd's
   * snapshots, the walking differ for the reference's): both layers hold the same tree, layerd's in
   * containerd's content store under layerd's lease with the {@code containerd.io/uncompressed}
   * label, and layerd's, written with {@code --diff-compression small}, is no larger than the
   * walking differ's (Go's gzip level 6; the changes hold a copy of BusyBox's binary, so that the
   * codecs and not the tar headers make the difference).
   */
  private static void assertDiffsAgree(ContainerdRig rig, Path dir, String reference)
      throws Exception {
    List<TreeManifest> trees = new ArrayList<>();
    for (String snapshotter : List.of("layerd", reference)) {
      String id = "diff-" + snapshotter;
      rig.ok("containers", "create", "--snapshotter", snapshotter, BUSYBOX, id);
      Path target = Files.createDirectories(dir.resolve("dm-" + snapshotter));
      String cmd =
          rig.ok("snapshots", "--snapshotter", snapshotter, "mounts", target.toString(), id)
              .out()
              .strip();
      run(List.of(cmd.split(" ")));
      try {
        Files.writeString(target.resolve("etc/hostname"), "changed\n");
        Files.createDirectories(target.resolve("srv/new"));
        Files.writeString(target.resolve("srv/new/file"), "new file\n");
        Files.copy(target.resolve("bin/busybox"), target.resolve("srv/new/busybox"));
        run(List.of("rm", "-rf", target.resolve("bin/wget").toString()));
        run(List.of("chmod", "0700", target.resolve("tmp").toString()));
      } finally {
        run(List.of("umount", target.toString()));
      }
      Path layer = dir.resolve("diff-" + snapshotter + ".tar.gz");
      rig.okTo(layer, "snapshots", "--snapshotter", snapshotter, "diff", "--keep", id);
      Path x = Files.createDirectories(dir.resolve("dx-" + snapshotter));
      run(List.of("tar", "--numeric-owner", "-xpzf", layer.toString(), "-C", x.toString()));
      trees.add(
          TreeManifest.of(
              x, TreeManifest.Options.builder().ignoreRootAttributes().ignoreMtimes().build()));
    }
    TreeManifest.assertSame(trees.get(1), trees.get(0));
    long ours = Files.size(dir.resolve("diff-layerd.tar.gz"));
    long walking = Files.size(dir.resolve("diff-" + reference + ".tar.gz"));
    assertTrue(
        ours <= walking && ours > walking / 2,
        "layerd's layer (--diff-compression small): "
            + ours
            + " bytes, the walking differ's: "
            + walking);
    System.out.printf(
        "ctr snapshots diff: layerd's layer (--diff-compression small) %d bytes, the walking"
            + " differ's %d%n",
        ours, walking);
    String leases = rig.ok("leases", "ls").out();
    assertTrue(leases.contains("layerd-diff-"), "layerd's differ wrote the layer:\n" + leases);
    String content = rig.ok("content", "ls").out();
    assertTrue(content.contains("containerd.io/uncompressed="), content);
  }

  static List<String> snapshotLayers(Daemon layerd) {
    List<String> out = new ArrayList<>();
    for (var m : layerd.engine().store().all()) {
      if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX)) {
        out.add(m.id());
      }
    }
    return out;
  }

  private static void run(List<String> argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", argv) + ": " + out);
  }

  private static void deleteTree(Path dir) throws IOException, InterruptedException {
    if (Files.exists(dir)) {
      run(List.of("rm", "-rf", "--one-file-system", dir.toString()));
    }
  }
}
