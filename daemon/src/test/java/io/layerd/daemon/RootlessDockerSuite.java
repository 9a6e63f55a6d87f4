package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestUser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * The same docker steps as {@link RootfulDockerSuite}, by an unprivileged user's rootless dockerd
 * under rootlesskit, on layerd running inside rootlesskit's namespaces. The exports are compared
 * with the rootful built-in vfs: a rootless export shows the ids as the container sees them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RootlessDockerSuite {
  private Path dir;
  private RootlessDocker docker;

  abstract String driver();

  /** Set-up the driver needs (and its undoing in {@link #release}). */
  void prepare() throws Exception {}

  void release() throws Exception {}

  @BeforeAll
  void startRootlessDockerd() throws Exception {
    EndToEndChecks.requirePeers();
    Require.userNamespaces();
    Require.command("rootlesskit");
    Require.command("setpriv");
    TestUser user = TestUser.standard();
    prepare();
    dir = Files.createTempDirectory("layerd-e2e-rl-" + driver() + "-");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    docker = RootlessDocker.start(user, dir.resolve("d"), driver());
  }

  @AfterAll
  void stopRootlessDockerd() throws Exception {
    try {
      if (docker != null) {
        docker.close();
      }
    } finally {
      try {
        release();
      } finally {
        if (dir != null) {
          BuiltInReference.removeTree(dir);
        }
      }
    }
  }

  @EndToEndTest
  void dockerStepsShowWhatBuiltInVfsShows() throws Exception {
    DockerScenario.Outcome ref = BuiltInReference.get();
    DockerScenario.Outcome o = DockerScenario.run(docker, dir.resolve("work"));
    EndToEndChecks.sameAsBuiltInVfs(docker, ref, o);
    assertEquals(0, EndToEndChecks.layersInStatus(docker), "rm and rmi removed every layer");
  }
}
