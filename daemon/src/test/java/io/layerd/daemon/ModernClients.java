package io.layerd.daemon;

import io.layerd.testkit.Require;
import io.layerd.testkit.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Today's Docker and containerd for the end-to-end tests: Debian unstable's dockerd and docker
 * 28.5.2, containerd 2.1.9 (with ctr and its shim), docker-buildx 0.29.1 and rootlesskit 2.0.2,
 * unpacked (never installed) by {@code .ci/modern-clients.sh}, which pins the versions.
 *
 * <p>The tree is {@code $LAYERD_MODERN_CLIENTS}, else {@code /var/cache/layerd-clients/x}. When it
 * is missing, the script is run to make it (it downloads the packages); when that fails, the test
 * is skipped, or fails under {@code LAYERD_REQUIRE_ALL} as CI runs.
 */
record ModernClients(Path tree) {
  /** The environment variable naming the unpacked tree ({@code CACHE/x}). */
  static final String ENV = "LAYERD_MODERN_CLIENTS";

  /** The script's default tree. */
  static final Path DEFAULT = Path.of("/var/cache/layerd-clients/x");

  private static final List<String> NEEDED =
      List.of(
          "usr/bin/containerd",
          "usr/bin/ctr",
          "usr/bin/containerd-shim-runc-v2",
          "usr/bin/docker",
          "usr/sbin/dockerd",
          "usr/libexec/docker/cli-plugins/docker-buildx");

  private static ModernClients found;
  private static String problem;

  /** The clients, fetched once per JVM when missing; skips or fails the test without them. */
  static synchronized ModernClients get() {
    if (found == null && problem == null) {
      try {
        found = locate();
      } catch (IOException | RuntimeException e) {
        problem = e.getMessage();
      }
    }
    Require.that(problem == null, "needs Docker 28 and containerd 2.1 (" + ENV + "): " + problem);
    return found;
  }

  private static ModernClients locate() throws IOException {
    String env = System.getenv(ENV);
    Path tree = env != null && !env.isBlank() ? Path.of(env) : DEFAULT;
    if (complete(tree)) {
      return new ModernClients(tree);
    }
    Path script = TestData.root().resolve(".ci/modern-clients.sh");
    if (!Files.isExecutable(script)) {
      throw new IOException(tree + " lacks the clients, and there is no " + script);
    }
    // The script makes CACHE/x; it prints that path.
    List<String> cmd =
        env != null && !env.isBlank()
            ? List.of(script.toString(), tree.getParent().toString())
            : List.of(script.toString());
    DockerHost.Run r = DockerHost.exec(cmd, null, Duration.ofMinutes(10));
    if (r.exit() != 0 || !complete(tree)) {
      throw new IOException(
          tree + " lacks the clients, and " + script + " could not make it: " + r.describe());
    }
    return new ModernClients(tree);
  }

  private static boolean complete(Path tree) {
    return NEEDED.stream().allMatch(p -> Files.isExecutable(tree.resolve(p)));
  }

  /** {@code usr/bin/NAME}, else {@code usr/sbin/NAME}. */
  String binary(String name) {
    Path bin = tree.resolve("usr/bin").resolve(name);
    return (Files.exists(bin) ? bin : tree.resolve("usr/sbin").resolve(name)).toString();
  }

  /** The directory of the docker CLI's plugins (docker-buildx). */
  Path cliPlugins() {
    return tree.resolve("usr/libexec/docker/cli-plugins");
  }

  /**
   * The environment of a daemon run from the tree: its bin and sbin first on the PATH, so that
   * containerd finds its own shim (and the shim Debian 12's runc).
   */
  Map<String, String> environment() {
    String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    return Map.of("PATH", tree.resolve("usr/bin") + ":" + tree.resolve("usr/sbin") + ":" + path);
  }
}
