package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestData;
import io.layerd.testkit.TestUser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Rootless Docker 28 as a user runs it today: the test user starts {@code layerd
 * rootless-containerd --docker} (rootlesskit with slirp4netns; layerd, containerd 2.1.9 and dockerd
 * 28.5.2 with the containerd image store inside its namespaces). The docker steps of {@link
 * DockerScenario} and {@link ImageStoreScenario} (load of the real archives, BuildKit's build, save
 * and load back...) show what they show on Docker's built-in overlayfs snapshotter under the same
 * rootless set-up; after rmi and containerd's garbage collection layerd holds no layer. Then
 * rootless {@code ctr} imports and runs on layerd.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RootlessContainerdDockerSuite {
  private Path dir;
  private RootlessDocker docker;

  abstract String driver();

  private static final String REFERENCE = "rootless Docker 28's built-in overlayfs";

  private TestUser user;
  private ModernClients clients;

  @BeforeAll
  void start() throws Exception {
    Require.root();
    Require.userNamespaces();
    Require.kernelAtLeast(5, 11); // overlay in a user namespace: the reference's and overlay2's
    Require.command("rootlesskit");
    Require.command("slirp4netns");
    Require.command("setpriv");
    Require.command("nsenter");
    Require.command("tar");
    clients = ModernClients.get();
    user = TestUser.standard();
    // Short: unix sockets live under it.
    dir = Files.createTempDirectory(Path.of("/tmp"), "rlc-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    docker = RootlessDocker.onContainerd(user, dir.resolve("d"), clients, driver(), "layerd");
  }

  @AfterAll
  void stop() throws Exception {
    try {
      if (docker != null) {
        docker.close();
      }
    } finally {
      if (dir != null) {
        BuiltInReference.removeTree(dir);
      }
    }
  }

  @EndToEndTest
  void dockerStepsShowWhatBuiltInOverlayfsShows() throws Exception {
    ContainerdDockerReference.Outcome ref = ContainerdDockerReference.rootless(user, clients);
    DockerScenario.Outcome o = DockerScenario.run(docker, dir.resolve("w1"));
    EndToEndChecks.sameAs(docker, REFERENCE, ref.scenario(), o);
    ContainerdDockerScenario.Outcome more = ContainerdDockerScenario.run(docker, dir.resolve("w2"));
    // Usage is the blocks of each layer's own directory, as overlayfs's: the sizes agree where
    // the layers are kept as overlayfs keeps them.
    ContainerdDockerScenario.assertSame(docker, ref.more(), more, driver().equals("overlay2"));
    awaitNoLayer();
  }

  @EndToEndTest
  void rootlessCtrImportsAndRunsOnLayerd() throws Exception {
    Path image = docker.inputs().resolve("ctr-busybox.tar");
    OciArchive.named(
        TestData.file("images/busybox-1.38.0-glibc-oci"), ContainerdDockerScenario.BUSYBOX, image);
    Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-r--r--"));
    String ns = "layerd-test";
    docker.ctr(ns, "images", "import", "--snapshotter", "layerd", image.toString()).ok();
    List<String> run =
        new ArrayList<>(List.of("run", "--rm", "--snapshotter", "layerd", "--net-host"));
    run.addAll(cgroupFlags());
    run.addAll(
        List.of(
            ContainerdDockerScenario.BUSYBOX, "ctr-run", "sh", "-c", "echo x > /f; cat /f; id -u"));
    assertEquals("x\n0\n", docker.ctr(ns, run.toArray(new String[0])).ok().stdout());
    docker.ctr(ns, "images", "rm", "--sync", ContainerdDockerScenario.BUSYBOX).ok();
    awaitNoLayer();
  }

  /**
   * A rootless container has a cgroup only where systemd delegated one to the user's session
   * (cgroup v2); on cgroup v1 never, and the test user has no session either way. So ctr asks for
   * no cgroup and no CPU shares (its default sets 1024, which runc could not apply), which works on
   * both versions.
   */
  private static List<String> cgroupFlags() {
    return List.of("--cgroup", "", "--cpu-shares", "0");
  }

  /** containerd's garbage collection removes the snapshots, and layerd the layers (async). */
  private void awaitNoLayer() throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    List<Path> left = docker.layerdLayers();
    while (!left.isEmpty()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(docker.describe() + ": layers left after rmi and GC: " + left);
      }
      Thread.sleep(200);
      left = docker.layerdLayers();
    }
  }
}
