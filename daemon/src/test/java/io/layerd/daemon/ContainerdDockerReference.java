package io.layerd.daemon;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What Docker 28 on containerd 2.1 shows with containerd's own overlayfs snapshotter for {@link
 * DockerScenario}'s and {@link ContainerdDockerScenario}'s steps: the reference the containerd
 * suites are compared with. Run once per JVM, on first use.
 */
final class ContainerdDockerReference {
  /** What the reference showed. */
  record Outcome(DockerScenario.Outcome scenario, ContainerdDockerScenario.Outcome more) {}

  private static Outcome outcome;
  private static String failure; // what went wrong, with its stack trace

  private ContainerdDockerReference() {}

  static synchronized Outcome get(ModernClients clients) throws Exception {
    if (outcome == null && failure == null) {
      Path dir = Files.createTempDirectory(Path.of("/tmp"), "l28r");
      try (RootfulDocker d =
          RootfulDocker.onContainerd(
              dir.resolve("d"), clients, "vfs", dir.resolve("layerd"), "overlayfs")) {
        outcome =
            new Outcome(
                DockerScenario.run(d, dir.resolve("w1")),
                ContainerdDockerScenario.run(d, dir.resolve("w2")));
      } catch (Exception | AssertionError e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        failure = w.toString();
      } finally {
        BuiltInReference.removeTree(dir);
      }
    }
    if (failure != null) {
      throw new AssertionError(
          "the reference run on Docker 28's built-in overlayfs failed: " + failure);
    }
    return outcome;
  }
}
