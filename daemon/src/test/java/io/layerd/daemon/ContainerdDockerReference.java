package io.layerd.daemon;

import io.layerd.testkit.TestUser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;

/**
 * What Docker 28 on containerd 2.1 shows with containerd's own overlayfs snapshotter for {@link
 * DockerScenario}'s and {@link ContainerdDockerScenario}'s steps: the reference the containerd
 * suites are compared with, rootful ({@link #get}) or under the same rootless set-up as the
 * rootless suites ({@link #rootless}). Each is run once per JVM, on first use.
 */
final class ContainerdDockerReference {
  /** What the reference showed. */
  record Outcome(DockerScenario.Outcome scenario, ContainerdDockerScenario.Outcome more) {}

  /** Starts the reference's Docker in {@code dir}. */
  private interface Starter {
    DockerHost start(Path dir) throws Exception;
  }

  private static final Map<String, Outcome> OUTCOMES = new HashMap<>();
  private static final Map<String, String> FAILURES = new HashMap<>(); // with the stack trace

  private ContainerdDockerReference() {}

  /** Rootful Docker 28 on the built-in overlayfs. */
  static Outcome get(ModernClients clients) throws Exception {
    return of(
        "rootful",
        dir ->
            RootfulDocker.onContainerd(
                dir.resolve("d"), clients, "vfs", dir.resolve("layerd"), "overlayfs"));
  }

  /**
   * Rootless Docker 28 on the built-in overlayfs, started by {@code user} with {@code layerd
   * rootless-containerd --docker -- --storage-driver overlayfs}.
   */
  static Outcome rootless(TestUser user, ModernClients clients) throws Exception {
    return of(
        "rootless",
        dir -> RootlessDocker.onContainerd(user, dir.resolve("d"), clients, "vfs", "overlayfs"));
  }

  private static synchronized Outcome of(String key, Starter starter) throws Exception {
    if (!OUTCOMES.containsKey(key) && !FAILURES.containsKey(key)) {
      Path dir = Files.createTempDirectory(Path.of("/tmp"), "l28r");
      // A rootless Docker's user reaches its directories through this one.
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      try (DockerHost d = starter.start(dir)) {
        OUTCOMES.put(
            key,
            new Outcome(
                DockerScenario.run(d, dir.resolve("w1")),
                ContainerdDockerScenario.run(d, dir.resolve("w2"))));
      } catch (Exception | AssertionError e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        FAILURES.put(key, w.toString());
      } finally {
        BuiltInReference.removeTree(dir);
      }
    }
    if (FAILURES.containsKey(key)) {
      throw new AssertionError(
          "the reference run on "
              + key
              + " Docker 28's built-in overlayfs failed: "
              + FAILURES.get(key));
    }
    return OUTCOMES.get(key);
  }
}
