package io.layerd.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code layerd rootless-docker [DOCKERD-ARGS...]}: runs {@code
 * daemon/scripts/layerd-rootless-docker.sh} with this layerd, which starts rootlesskit, layerd
 * inside its namespaces and a rootless dockerd using it.
 */
@Command(
    name = "rootless-docker",
    mixinStandardHelpOptions = true,
    description = {
      "Start a rootless dockerd that uses layerd, the way dockerd-rootless.sh starts dockerd:"
          + " rootlesskit makes the user and mount namespaces and a private /run; layerd starts"
          + " inside them on /run/docker/plugins/layerd.sock; then dockerd --rootless"
          + " --experimental --storage-driver layerd DOCKERD-ARGS. Run it as the user (with"
          + " XDG_RUNTIME_DIR set). SIGTERM stops dockerd, then layerd.",
      "Environment: LAYERD_ARGS (more layerd arguments, e.g. \"--driver overlay2\"),"
          + " LAYERD_DATA_ROOT, LAYERD_ROOTLESSKIT_NET (host or slirp4netns),"
          + " LAYERD_ROOTLESSKIT_FLAGS; see the script's header."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerd rootless-docker",
      "  LAYERD_ARGS=\"--driver fuse-overlayfs\" layerd rootless-docker --debug",
      ""
    })
final class RootlessDockerCommand implements Callable<Integer> {
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

  @Override
  public Integer call() throws IOException, InterruptedException {
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
    ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
    if (System.getenv("LAYERD") == null) {
      pb.environment().put("LAYERD", String.join(" ", Main.selfCommand()));
    }
    Process p = pb.start();
    Thread forward =
        new Thread(
            () -> {
              p.destroy(); // SIGTERM: the script stops dockerd, then layerd
              try {
                p.waitFor();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "layerd-rootless-docker-stop");
    Runtime.getRuntime().addShutdownHook(forward);
    int status = p.waitFor();
    try {
      Runtime.getRuntime().removeShutdownHook(forward);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs anyway
    }
    return status;
  }
}
