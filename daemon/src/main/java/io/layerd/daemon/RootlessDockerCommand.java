package io.layerd.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerd rootless-docker [DOCKERD-ARGS...]}: a rootless dockerd on layerd, by the route the
 * dockerd on PATH takes. Docker 20.10 to 27: {@code daemon/scripts/layerd-rootless-docker.sh} with
 * this layerd (rootlesskit, layerd inside its namespaces as the graph-driver plugin, dockerd
 * --rootless --storage-driver layerd). Docker 28 and later, which have no graph-driver plugins:
 * {@link RootlessContainerdCommand} with {@code --docker} (containerd with layerd as its
 * snapshotter, dockerd on it with the containerd image store). It says which it chose.
 */
@Command(
    name = "rootless-docker",
    mixinStandardHelpOptions = true,
    description = {
      "Start a rootless dockerd that uses layerd, the way dockerd-rootless.sh starts dockerd. Run"
          + " it as the user (with XDG_RUNTIME_DIR set); dockerd listens on"
          + " $XDG_RUNTIME_DIR/docker.sock. SIGTERM stops dockerd, then layerd.",
      "The route follows `dockerd --version` (or --route): Docker 28 and later through"
          + " containerd, as `layerd rootless-containerd --docker` (rootlesskit with slirp4netns;"
          + " containerd with layerd as its snapshotter; dockerd --rootless on it with the"
          + " containerd image store). Docker 20.10 to 27 through the graph-driver plugin:"
          + " rootlesskit; layerd inside its namespaces on /run/docker/plugins/layerd.sock; then"
          + " dockerd --rootless --experimental --storage-driver layerd DOCKERD-ARGS.",
      "Environment of the plugin route: LAYERD_ARGS (more layerd arguments, e.g. \"--driver"
          + " overlay2\"), LAYERD_DATA_ROOT, LAYERD_ROOTLESSKIT_NET (host or slirp4netns),"
          + " LAYERD_ROOTLESSKIT_FLAGS; see the script's header. The containerd route takes"
          + " LAYERD_ROOTLESSKIT_FLAGS."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerd rootless-docker",
      "  layerd rootless-docker --route plugin",
      "  LAYERD_ARGS=\"--driver fuse-overlayfs\" layerd rootless-docker --route plugin --debug",
      ""
    })
final class RootlessDockerCommand implements Callable<Integer> {
  /** How dockerd reaches layerd. */
  enum Route {
    /** By dockerd's version: containerd from 28 on, else the plugin. */
    auto,
    /** The graph-driver plugin (Docker 20.10 to 27). */
    plugin,
    /** containerd's snapshotter, with the containerd image store (Docker 28 and later). */
    containerd
  }

  @Option(
      names = "--route",
      paramLabel = "auto|plugin|containerd",
      description =
          "containerd (Docker 28 and later), plugin (Docker 20.10 to 27), or auto: by `dockerd"
              + " --version`. Default: ${DEFAULT-VALUE}.")
  Route route = Route.auto;

  @Parameters(paramLabel = "DOCKERD-ARGS", description = "Passed on to dockerd.")
  List<String> dockerdArgs = new ArrayList<>();

  /** The script: $LAYERD_ROOTLESS_SCRIPT, else beside the jar's module (daemon/scripts/). */
  static Path script() {
    String env = System.getenv("LAYERD_ROOTLESS_SCRIPT");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    Path code = Main.codeSource(); // daemon/target/layerd.jar or daemon/target/classes
    Path module = code.getParent() == null ? null : code.getParent().getParent();
    return module == null ? null : module.resolve("scripts").resolve("layerd-rootless-docker.sh");
  }

  /** Whether {@code dockerd} takes the containerd route under {@code route}. */
  static boolean containerdRoute(Route route, Dockerd dockerd) {
    return switch (route) {
      case auto -> dockerd.containerdRoute();
      case plugin -> false;
      case containerd -> true;
    };
  }

  @Override
  public Integer call() throws IOException, InterruptedException {
    Dockerd dockerd = Dockerd.find();
    if (containerdRoute(route, dockerd)) {
      System.err.println(
          "layerd rootless-docker: "
              + dockerd.path()
              + " is \""
              + dockerd.versionLine()
              + "\": the containerd route (`layerd rootless-containerd --docker`): containerd with"
              + " layerd as its snapshotter, dockerd --rootless on it with the containerd image"
              + " store");
      RootlessContainerdCommand c = new RootlessContainerdCommand();
      c.docker = true;
      c.dockerdArgs = dockerdArgs;
      return c.call();
    }
    System.err.println(
        "layerd rootless-docker: "
            + dockerd.path()
            + " is \""
            + dockerd.versionLine()
            + "\": the graph-driver plugin route (Docker 20.10 to 27): layerd-rootless-docker.sh");
    Path script = script();
    if (script == null || !Files.isExecutable(script)) {
      throw new IOException(
          "cannot find layerd-rootless-docker.sh (looked at "
              + script
              + "): set LAYERD_ROOTLESS_SCRIPT to its path");
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(script.toString());
    cmd.addAll(dockerdArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    if (System.getenv("LAYERD") == null) {
      pb.environment().put("LAYERD", String.join(" ", Main.selfCommand()));
    }
    return Foreground.run(pb, "layerd-rootless-docker");
  }
}
