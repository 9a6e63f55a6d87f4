package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.testkit.EndToEndTest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Debian's dockerd 20.10, rootful, {@code --experimental --storage-driver} layerd with one engine
 * driver: the docker steps of {@link DockerScenario} show what dockerd's built-in vfs shows. One
 * dockerd per class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class RootfulDockerSuite {
  private Path dir;
  private RootfulDocker docker;

  /** The engine driver layerd serves dockerd with. */
  abstract String driver();

  /** Checks for what the driver needs beyond root and dockerd. */
  void requireDriver() {}

  /** Where layerd keeps its layers (btrfs: on a loop-mounted btrfs). */
  Path layerdRoot(Path dir) throws Exception {
    return dir.resolve("layerd");
  }

  /** Undoes {@link #layerdRoot}'s set-up. */
  void releaseLayerdRoot(Path dir) throws Exception {}

  @BeforeAll
  void startDockerd() throws Exception {
    EndToEndChecks.requirePeers();
    requireDriver();
    dir = Files.createTempDirectory("layerd-e2e-" + driver() + "-");
    docker = RootfulDocker.withLayerd(dir.resolve("d"), driver(), layerdRoot(dir));
  }

  @AfterAll
  void stopDockerd() throws Exception {
    try {
      if (docker != null) {
        docker.close();
      }
    } finally {
      if (dir != null) {
        try {
          releaseLayerdRoot(dir);
        } finally {
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
    assertEquals(0, docker.layerd().engine().store().all().size(), "layerd's store is empty");
  }
}
