package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  /** The name go-containerregistry's uid-185992 test image carries (its RepoTags). */
  private static final String UID_185992_IMAGE = "bazel/v1/tarball:test_image";

  /**
   * {@code docker load} of go-containerregistry's test image, whose layer's files are owned by uid
   * 185992 and gid 5000, beyond the test user's 65,536 subordinate ids. layerd's differ refuses the
   * layer with its own message, FAILED_PRECONDITION in the gRPC status (the entry, the id, the
   * mapping's ranges with the /etc/subuid line they come from, and the usermod remedy); containerd
   * passes it on instead of trying its walking differ (whose message would be {@code failed to
   * Lchown ... invalid argument}), and dockerd prints it. layerd keeps no layer of it: the
   * extraction snapshot that containerd prepared, and removed on the failure, goes with its layer.
   *
   * <p>What Docker 28.5.2 does with the failure is Docker's, and nothing on layerd's side changes
   * it: {@code ImageService.LoadImage} (moby v28.5.2, daemon/containerd/image_exporter.go, the loop
   * over the imported images at its end, lines 315-376) imports the archive into containerd's
   * content and image stores first, then unpacks each image; an unpack error is only written to the
   * progress stream ({@code "Error unpacking image NAME: ERR"}, line 372, after {@code "Loaded
   * image: NAME"}, under the comment "The image failed to unpack, but is already imported, log the
   * error but don't fail the whole load"; deliberate since moby#48293, "Fix early error exit from
   * docker load in cases where unpacking the image would fail", and unchanged in moby's master of
   * docker-v29.7.2) and LoadImage returns nil. So {@code docker load} exits 0 whatever the differ
   * answers, and the image stays listed by {@code docker images}, imported but not unpacked. The
   * failure comes back where the image is used: {@code docker run} unpacks it again and fails (exit
   * 125) with the same message; {@code docker rmi} removes it.
   */
  @EndToEndTest
  void loadingAnImageOwnedBeyondTheSubordinateIdsGivesLayerdsMessage() throws Exception {
    Path image = docker.inputs().resolve("uid185992.tar");
    Files.copy(TestData.file("images/ggcr-test-image-uid185992.tar"), image);
    Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-r--r--"));
    List<Path> before = docker.layerdLayers();

    DockerHost.Run load = docker.docker("load", "-i", image.toString());
    assertEquals(0, load.exit(), "Docker 28.5.2 does not fail a load whose unpack failed");
    String unpacking = "Error unpacking image " + UID_185992_IMAGE + ": ";
    assertTrue(load.stdout().contains(unpacking), load.describe());
    assertLayerdsMessage(load.stdout().substring(load.stdout().indexOf(unpacking)));
    assertTrue(
        docker.docker("images").ok().stdout().contains("bazel/v1/tarball"),
        "Docker keeps the imported image");
    // containerd removed the extraction snapshot on the failure; its layer goes at the next GC
    awaitLayers(before);

    DockerHost.Run run = docker.docker("run", "--rm", UID_185992_IMAGE, "true");
    assertEquals(125, run.exit(), run.describe());
    assertLayerdsMessage(run.stderr());

    docker.docker("rmi", UID_185992_IMAGE).ok();
    assertFalse(docker.docker("images").ok().stdout().contains("bazel/v1/tarball"));
    awaitLayers(before);
  }

  /**
   * {@code out} holds layerd's message for ggcr's test image in the test user's namespace, not
   * containerd's walking differ's.
   */
  private void assertLayerdsMessage(String out) {
    long start = user.subuidStart();
    long count = user.subuidCount();
    List<String> expected =
        List.of(
            "FailedPrecondition: layer ",
            "the entry \"./foo/\" is owned by uid 185992, which this user namespace does not map",
            "1-" + count + " -> host " + start + "-" + (start + count - 1) + " from /etc/subuid:",
            " \"" + user.name() + ":" + start + ":" + count + "\"",
            "needs at least 185,992 subordinate uids",
            "Run `sudo usermod --add-subuids ");
    for (String e : expected) {
      assertTrue(out.contains(e), "no <" + e + "> in:\n" + out);
    }
    assertTrue(out.contains(" " + user.name() + "`"), out);
    assertFalse(out.contains("Lchown"), out);
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
    awaitLayers(List.of());
  }

  /** containerd's garbage collection leaves layerd {@code expected}'s layers (async). */
  private void awaitLayers(List<Path> expected) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    List<Path> left = docker.layerdLayers();
    while (!left.equals(expected)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            docker.describe() + ": layers after rmi and GC: " + left + ", not " + expected);
      }
      Thread.sleep(200);
      left = docker.layerdLayers();
    }
  }
}
