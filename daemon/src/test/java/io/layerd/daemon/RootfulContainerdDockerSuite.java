package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.SnapshotterServerAccess;
import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.TreeManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Docker 28.5.2 with the containerd image store on containerd 2.1.9, rootful, with layerd's
 * snapshotter and differ on one engine driver (docker load applies through layerd's differ; commit
 * and build diff through it on overlay2 and fuse-overlayfs, and through containerd's walking differ
 * on vfs and btrfs, which layerd's declines): containerd on the config {@code layerd config
 * containerd} prints, dockerd on the daemon.json {@code layerd config docker} prints. {@link
 * DockerScenario}'s and {@link ContainerdDockerScenario}'s steps show what Docker's built-in
 * overlayfs shows, and after {@code rmi} containerd's garbage collection leaves layerd no layer.
 * One containerd and dockerd per class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RootfulContainerdDockerSuite {
  private Path dir;
  private LoopBtrfs btrfs;
  private ModernClients clients;
  private RootfulDocker docker;

  /** The engine driver layerd serves containerd with. */
  abstract String driver();

  @BeforeAll
  void start() throws Exception {
    Require.root();
    Require.command("runc");
    Require.command("tar");
    if (driver().equals("fuse-overlayfs")) {
      Require.command("fuse-overlayfs");
      Require.fuse();
    }
    clients = ModernClients.get();
    dir = Files.createTempDirectory(Path.of("/tmp"), "l28");
    Path layerdRoot = dir.resolve("layerd");
    if (driver().equals("btrfs")) {
      btrfs = LoopBtrfs.create(true, null);
      layerdRoot = btrfs.path("layerd");
    }
    docker = RootfulDocker.onContainerd(dir.resolve("d"), clients, driver(), layerdRoot, "layerd");
  }

  @AfterAll
  void stop() throws Exception {
    try {
      if (docker != null) {
        docker.close();
      }
    } finally {
      try {
        if (btrfs != null) {
          btrfs.close();
        }
      } finally {
        if (dir != null) {
          BuiltInReference.removeTree(dir);
        }
      }
    }
  }

  @EndToEndTest
  void dockerStepsShowWhatOverlayfsShowsAndGcLeavesNoLayer() throws Exception {
    ContainerdDockerReference.Outcome ref = ContainerdDockerReference.get(clients);
    long start = System.nanoTime();
    DockerScenario.Outcome o = DockerScenario.run(docker, dir.resolve("w1"));
    EndToEndChecks.sameAs(
        docker, "Docker 28's built-in overlayfs", comparable(ref.scenario()), comparable(o));
    ContainerdDockerScenario.Outcome more = ContainerdDockerScenario.run(docker, dir.resolve("w2"));
    // Usage is the blocks of each layer's own directory, as overlayfs's: the sizes agree where
    // the layers are kept as overlayfs keeps them.
    ContainerdDockerScenario.assertSame(
        docker, comparable(ref.more()), comparable(more), driver().equals("overlay2"));

    if (!driver().equals("vfs") && !driver().equals("btrfs")) {
      // docker commit and build diffed through layerd's differ: its lease holds their layers
      String leases = docker.containerd().okIn("moby", "leases", "ls").out();
      assertTrue(leases.contains("layerd-diff-"), "layerd's differ wrote no layer:\n" + leases);
    }

    // containerd's garbage collection removes every snapshot dockerd had, and layerd the layers
    long deadline = System.nanoTime() + 60_000_000_000L;
    List<String> left = layers();
    while (!left.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(200);
      left = layers();
    }
    assertEquals(
        List.of(),
        left,
        "layers left after rmi and GC; containerd: "
            + docker.containerd().okIn("moby", "snapshots", "--snapshotter", "layerd", "ls").out());
    System.out.printf(
        "%s: the docker steps took %d s%n",
        docker.describe(), (System.nanoTime() - start) / 1_000_000_000L);
  }

  /**
   * What can be compared. On fuse-overlayfs, trees without their hardlink groups: containerd
   * applies a layer through the snapshot's mount (its walking differ), and fuse-overlayfs 1.10,
   * asked to unlink one name of a lower file with several (a layer's whiteout of bin/vi, one of
   * BusyBox's 410 names), copies another name of it up as a file of its own (bin/wall), so that
   * name leaves the group. Reproduced with fuse-overlayfs alone: lower {a..h} one inode, {@code rm
   * m/d} leaves upper/a a copy. containerd's own fuse-overlayfs snapshotter applies layers the same
   * way; contents, modes and owners are still compared.
   */
  private ContainerdDockerScenario.Outcome comparable(ContainerdDockerScenario.Outcome o) {
    if (!driver().equals("fuse-overlayfs")) {
      return o;
    }
    java.util.Map<String, TreeManifest> trees = new java.util.LinkedHashMap<>();
    o.trees().forEach((k, v) -> trees.put(k, withoutHardlinks(v)));
    return new ContainerdDockerScenario.Outcome(trees, o.imagesSize());
  }

  private DockerScenario.Outcome comparable(DockerScenario.Outcome o) {
    if (!driver().equals("fuse-overlayfs")) {
      return o;
    }
    return new DockerScenario.Outcome(
        withoutHardlinks(o.created()),
        withoutHardlinks(o.ran()),
        withoutHardlinks(o.committed()),
        o.diff(),
        o.cpOut(),
        o.runOutput(),
        o.runCommittedOutput(),
        o.savedLayers());
  }

  private static TreeManifest withoutHardlinks(TreeManifest m) {
    List<TreeManifest.Entry> out = new ArrayList<>();
    for (TreeManifest.Entry e : m.entries()) {
      out.add(e.withHardlink(null));
    }
    return TreeManifest.ofEntries(out);
  }

  private List<String> layers() {
    List<String> out = new ArrayList<>();
    for (var m : docker.layerd().engine().store().all()) {
      if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX)) {
        out.add(m.id());
      }
    }
    return out;
  }
}
