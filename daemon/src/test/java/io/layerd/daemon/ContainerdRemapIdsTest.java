package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestData;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * containerd's {@code remap-ids} capability with the real containerd 2.1.9 on the config {@code
 * layerd config containerd} prints: {@code ctr run --uidmap 0:100000:65536 --gidmap 0:100000:65536
 * --remap-labels} runs busybox in a user namespace on layerd, where the image's files are root's
 * inside the container while the host sees them owned by 100000 — through idmapped lower layers on
 * overlay2 (no layer copied), through one shifted copy shared by the containers of that image and
 * mapping on vfs. After the containers and the image go, containerd's garbage collection leaves
 * layerd no layer, the shifted copy included.
 */
class ContainerdRemapIdsTest {
  private static final String BUSYBOX = "busybox:1.38.0-glibc";
  private static final String MAP = "0:100000:65536";

  @EndToEndTest
  void overlay2MapsIdsWithIdmappedLowerLayers() throws Exception {
    remapped("overlay2", 0);
  }

  @EndToEndTest
  void vfsMapsIdsWithOneSharedShiftedCopy() throws Exception {
    remapped("vfs", 1);
  }

  /**
   * @param copies the shifted copies expected (layers beyond the image's and the containers' own)
   */
  private static void remapped(String driver, int copies) throws Exception {
    Require.root();
    Require.command("runc");
    ModernClients clients = ModernClients.get();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    // The container's root (host uid 100000) walks to its rootfs under containerd's state.
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    Path snapSocket = dir.resolve("snap.sock");
    Path dataRoot = dir.resolve("layerd");
    Settings settings =
        Settings.of(dataRoot, dir.resolve("gd.sock"), driver)
            .withContainerdSocket(snapSocket)
            .withContainerd(dir.resolve("c/root"), dir.resolve("c/containerd.sock"));
    try (Daemon layerd = Daemon.start(settings);
        ContainerdRig rig =
            ContainerdRig.startWithLayerd(dir.resolve("c"), clients, snapSocket, dataRoot)) {
      String plugin = rig.ok("plugins", "ls", "-d", "id==layerd").out();
      assertTrue(plugin.contains("remap-ids"), "the generated config declares it:\n" + plugin);
      rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), "layerd");
      int imageLayers = layers(layerd).size();

      String inside =
          rig.ok(
                  runArgs(
                      rig,
                      "--rm",
                      "c1",
                      "sh",
                      "-c",
                      "cat /proc/self/uid_map; stat -c %u:%g / /bin/busybox /etc/passwd;"
                          + " echo x > /new; stat -c %u:%g /new"))
              .out();
      List<String> lines = inside.lines().map(String::strip).toList();
      assertEquals(List.of("0", "100000", "65536"), List.of(lines.get(0).split("\\s+")), inside);
      assertEquals(
          List.of("0:0", "0:0", "0:0", "0:0"), lines.subList(1, 5), "root's inside:\n" + inside);

      rig.ok(runArgs(rig, "-d", "c2", "sleep", "600"));
      rig.ok(runArgs(rig, "-d", "c3", "sleep", "600"));
      Path rootfs =
          rig.dir()
              .resolve("state/io.containerd.runtime.v2.task")
              .resolve(ContainerdRig.NAMESPACE)
              .resolve("c2/rootfs");
      for (String p : List.of("", "bin/busybox", "etc/passwd")) {
        assertEquals(
            "100000:100000", owner(rootfs.resolve(p)), "the host sees the mapped ids: /" + p);
      }
      // c1's snapshot (run --rm) goes when containerd's GC runs, which may be after ctr returns.
      int want = imageLayers + 2 + copies;
      waitFor(
          () -> layers(layerd).size() <= want,
          "c1's layer to go: two containers' layers and " + copies + " shifted copies");
      assertEquals(
          want,
          layers(layerd).size(),
          "two containers' layers and " + copies + " shifted copies: " + layers(layerd));

      rig.ok("tasks", "delete", "--force", "c2");
      rig.ok("tasks", "delete", "--force", "c3");
      rig.ok("containers", "delete", "c2", "c3");
      rig.ok("images", "rm", "--sync", BUSYBOX);
      waitFor(() -> layers(layerd).isEmpty(), "containerd's GC to remove every layer");
    } finally {
      ContainerdRig.unmountUnder(dir);
      io.layerd.testkit.TestFiles.deleteTree(dir);
    }
  }

  private static String[] runArgs(ContainerdRig rig, String mode, String id, String... command) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "run",
                mode,
                "--snapshotter",
                "layerd",
                "--cgroup=",
                "--fifo-dir",
                rig.dir().resolve("fifo").toString(),
                "--runc-root",
                rig.dir().resolve("runc").toString(),
                "--uidmap",
                MAP,
                "--gidmap",
                MAP,
                "--remap-labels",
                BUSYBOX,
                id));
    a.addAll(List.of(command));
    return a.toArray(String[]::new);
  }

  private static String owner(Path p) throws Exception {
    return Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS)
        + ":"
        + Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
  }

  /** layerd's layers for containerd's snapshots. */
  private static List<String> layers(Daemon layerd) {
    return ContainerdSnapshotterTest.snapshotLayers(layerd);
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  /** Polls (every 100 ms, 30 s at most) until {@code check} holds. */
  private static void waitFor(Check check, String what) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!check.ok()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(100);
    }
  }
}
