package io.layerd.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What dockerd's own vfs driver shows for {@link DockerScenario}'s steps: the reference every suite
 * is compared with. Run once per JVM, on first use, by a rootful dockerd on private directories.
 */
final class BuiltInReference {
  private static DockerScenario.Outcome outcome;
  private static String failure; // what went wrong, with its stack trace

  private BuiltInReference() {}

  static synchronized DockerScenario.Outcome get() throws Exception {
    if (outcome == null && failure == null) {
      Path dir = Files.createTempDirectory("layerd-e2e-ref-");
      try (RootfulDocker d = RootfulDocker.builtIn(dir.resolve("d"), "vfs")) {
        outcome = DockerScenario.run(d, dir.resolve("work"));
      } catch (Exception | AssertionError e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        failure = w.toString();
      } finally {
        removeTree(dir);
      }
    }
    if (failure != null) {
      throw new AssertionError("the reference run on dockerd's built-in vfs failed: " + failure);
    }
    return outcome;
  }

  /** rm -rf, as root: vfs trees hold read-only directories and files of other owners. */
  static void removeTree(Path dir) {
    try {
      DockerHost.exec(
          List.of("rm", "-rf", "--one-file-system", dir.toString()), null, Duration.ofMinutes(2));
    } catch (java.io.IOException e) {
      // a temporary directory left behind
    }
  }
}
