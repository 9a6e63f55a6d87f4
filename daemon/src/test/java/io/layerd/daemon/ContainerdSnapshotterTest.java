package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.SnapshotterServerAccess;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestData;
import io.layerd.testkit.Tiers;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * layerd as containerd 1.6's proxy snapshotter, end to end: a real containerd (its config naming
 * layerd's socket under [proxy_plugins]) imports images onto layerd's layers, runs a container on
 * them, and every image's tree, mounted as containerd mounts it, equals the one containerd's own
 * {@code native} snapshotter gives. Removing the images lets containerd's garbage collection remove
 * every snapshot, and with them the engine's layers.
 */
class ContainerdSnapshotterTest {
  private static final String BUSYBOX = "busybox:1.38.0-glibc";

  /** The images (an OCI layout and docker-save tars: whiteouts, opaque directories, 14 layers). */
  private static final List<String> IMAGES =
      List.of(BUSYBOX, "docker.io/library/whiteout:latest", "docker.io/library/dive-test:latest");

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"overlay2", "vfs", "fuse-overlayfs", "btrfs"})
  @Tag(Tiers.ROOT)
  @SuppressWarnings("try") // closeLast only unmounts the btrfs, after the daemon stopped
  void containerdRunsOnLayerdAndSeesWhatNativeSees(String driver) throws Exception {
    Require.root();
    for (String c : List.of("containerd", "ctr", "runc", "containerd-shim-runc-v2")) {
      Require.command(c);
    }
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    Path snapSocket = dir.resolve("snap.sock");
    // btrfs: the data-root on a loop-mounted btrfs
    LoopBtrfs btrfs = driver.equals("btrfs") ? LoopBtrfs.create(false, null) : null;
    Path dataRoot = btrfs != null ? btrfs.mountPoint().resolve("layerd") : dir.resolve("layerd");
    Settings settings =
        Settings.of(dataRoot, dir.resolve("gd.sock"), driver).withContainerdSocket(snapSocket);
    try (LoopBtrfs closeLast = btrfs;
        Daemon layerd = Daemon.start(settings);
        ContainerdRig rig = ContainerdRig.start(dir.resolve("c"), "layerd", snapSocket)) {
      assertTrue(rig.ok("plugins", "ls").out().contains("layerd"), "containerd lists the proxy");
      for (String snapshotter : List.of("layerd", "native")) {
        rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), snapshotter);
        rig.importImage(TestData.file("images/ggcr-whiteout-docker-save.tar"), snapshotter);
        rig.importImage(TestData.file("images/dive-test-docker-image.tar"), snapshotter);
      }

      String out =
          rig.run(
              BUSYBOX, "layerd", "run-" + driver, "sh", "-c", "echo hello; echo x > /f; cat /f");
      assertEquals("hello\nx\n", out);

      int n = 0;
      for (String image : IMAGES) {
        TreeManifest ours = tree(rig, image, "layerd", "ours" + n, dir.resolve("m" + n));
        TreeManifest theirs = tree(rig, image, "native", "theirs" + n, dir.resolve("n" + n));
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

  /**
   * The image's tree as containerd mounts it: a container's snapshot prepared with {@code ctr
   * containers create}, mounted with the mount command {@code ctr snapshots mounts} prints.
   */
  private static TreeManifest tree(
      ContainerdRig rig, String image, String snapshotter, String id, Path target)
      throws IOException, InterruptedException {
    rig.ok("containers", "create", "--snapshotter", snapshotter, image, id);
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
      // Directory mtimes aside: containerd's native snapshotter copies the parent's tree for a
      // container and sets a directory's times before filling it, so its directories show the
      // copy's time; layerd's keep the image's.
      return TreeManifest.of(
          target,
          TreeManifest.Options.builder().ignoreRootAttributes().ignoreDirectoryMtimes().build());
    } finally {
      run(List.of("umount", target.toString()));
    }
  }

  private static List<String> snapshotLayers(Daemon layerd) {
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
