package io.layerd.daemon;

import io.layerd.daemon.containerd.ContainerdConfig;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.DeviceMode;
import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A rootless dockerd on layerd, started the way a user starts it, as the test user. Either Debian
 * 12's dockerd 20.10 with {@code daemon/scripts/layerd-rootless-docker.sh} (rootlesskit, then
 * layerd as the graph-driver plugin and dockerd inside its namespaces); or ({@link #onContainerd})
 * Docker 28 with {@code layerd rootless-containerd --docker} (rootlesskit with slirp4netns, then
 * layerd, containerd 2.1 and dockerd with the containerd image store). Everything lives under one
 * directory: XDG_RUNTIME_DIR (mode 0700), XDG_DATA_HOME (dockerd's, containerd's and layerd's
 * data), the inputs of the docker CLI, its config (buildx), the logs.
 */
final class RootlessDocker extends DockerHost {
  private final TestUser user;
  private final Path dir;
  private final String description;
  private final ModernClients clients; // null for the plugin route
  private DeviceMode tun; // opened for slirp4netns on the containerd route
  private Process script;

  private RootlessDocker(TestUser user, Path dir, String description, ModernClients clients) {
    this.user = user;
    this.dir = dir;
    this.description = description;
    this.clients = clients;
  }

  private Path runtimeDir() {
    return dir.resolve("run");
  }

  /** dockerd 20.10 with layerd's {@code driver} as its graph-driver plugin. */
  static RootlessDocker start(TestUser user, Path dir, String driver) throws Exception {
    RootlessDocker d =
        new RootlessDocker(
            user,
            dir,
            "rootless dockerd (" + user.name() + ", rootlesskit) on layerd's " + driver,
            null);
    try {
      d.makeDirs();
      // A copy the user can surely run (the work tree may sit where the user cannot reach it).
      Path scriptPath = dir.resolve("layerd-rootless-docker.sh");
      Files.copy(
          DockerTestImage.repoRoot().resolve("daemon/scripts/layerd-rootless-docker.sh"),
          scriptPath);
      Files.setPosixFilePermissions(scriptPath, PosixFilePermissions.fromString("rwxr-xr-x"));
      List<String> cmd = new ArrayList<>(d.asUser());
      cmd.addAll(d.xdg());
      cmd.addAll(
          List.of(
              "LAYERD=" + String.join(" ", layerdCommand()),
              "LAYERD_ARGS=--driver " + driver,
              "LAYERD_SOCKET_TIMEOUT=120",
              scriptPath.toString()));
      d.launch(cmd);
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  /**
   * Docker 28 with the containerd image store on containerd 2.1 (both from {@code clients}),
   * started by {@code layerd rootless-containerd --docker --driver DRIVER}; dockerd's snapshotter
   * is {@code snapshotter}: {@code layerd}, or containerd's own {@code overlayfs} for the reference
   * (passed on to dockerd as {@code --storage-driver}). The docker CLI is Docker 28's with buildx.
   * {@code dir} must be short (unix sockets live in it).
   */
  static RootlessDocker onContainerd(
      TestUser user, Path dir, ModernClients clients, String driver, String snapshotter)
      throws Exception {
    RootlessDocker d =
        new RootlessDocker(
            user,
            dir,
            "rootless Docker 28 on containerd 2.1 ("
                + user.name()
                + ", layerd rootless-containerd), "
                + storage(snapshotter, driver),
            clients);
    try {
      // slirp4netns opens /dev/net/tun as the user (0666 on most distributions, 0600 on some).
      d.tun = DeviceMode.openToUsers(DeviceMode.NET_TUN);
      d.makeDirs();
      Path plugins = Files.createDirectories(dir.resolve("cli").resolve("cli-plugins"));
      Files.createSymbolicLink(
          plugins.resolve("docker-buildx"), clients.cliPlugins().resolve("docker-buildx"));
      d.chown(dir.resolve("cli"));
      d.chown(plugins);
      List<String> cmd = new ArrayList<>(d.asUser());
      cmd.addAll(d.xdg());
      cmd.add("PATH=" + clients.environment().get("PATH"));
      cmd.addAll(layerdCommand());
      cmd.addAll(List.of("rootless-containerd", "--docker", "--driver", driver));
      if (!snapshotter.equals(ContainerdConfig.SNAPSHOTTER_NAME)) {
        cmd.addAll(List.of("--", "--storage-driver", snapshotter));
      }
      d.launch(cmd);
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  private void makeDirs() throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    for (String sub : List.of("run", "data", "in")) {
      chown(Files.createDirectories(dir.resolve(sub)));
    }
    Files.setPosixFilePermissions(runtimeDir(), PosixFilePermissions.fromString("rwx------"));
  }

  private List<String> xdg() {
    return List.of("XDG_RUNTIME_DIR=" + runtimeDir(), "XDG_DATA_HOME=" + dir.resolve("data"));
  }

  /** This JVM's layerd, on a class path the test user can read. */
  private static List<String> layerdCommand() {
    return List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dfile.encoding=UTF-8",
        "-Dsun.jnu.encoding=UTF-8",
        "-cp",
        ChildJvm.classpathCopy(),
        Main.class.getName());
  }

  private void launch(List<String> cmd) throws Exception {
    script =
        new ProcessBuilder(cmd)
            .directory(new java.io.File("/"))
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("rootless.log").toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    awaitReady(script, Duration.ofMinutes(2));
  }

  private void chown(Path p) throws IOException {
    exec(
            List.of("chown", user.uid() + ":" + user.gid(), p.toString()),
            null,
            Duration.ofSeconds(30))
        .ok();
  }

  /** setpriv to the user, with a clean environment (env -i), then the given assignments. */
  private List<String> asUser() {
    String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    return List.of(
        "setpriv",
        "--reuid",
        Long.toString(user.uid()),
        "--regid",
        Long.toString(user.gid()),
        "--init-groups",
        "env",
        "-i",
        "HOME=" + user.home(),
        "USER=" + user.name(),
        "LOGNAME=" + user.name(),
        "PATH=" + path,
        "LC_ALL=C.UTF-8");
  }

  @Override
  List<String> cli() {
    List<String> cmd = new ArrayList<>(asUser());
    cmd.add("DOCKER_HOST=unix://" + runtimeDir().resolve("docker.sock"));
    if (clients == null) {
      cmd.add(dockerBinary());
    } else {
      cmd.addAll(List.of(clients.binary("docker"), "--config", dir.resolve("cli").toString()));
    }
    return cmd;
  }

  /**
   * {@code ctr ARGS} in containerd's namespace {@code namespace}, as the user inside rootlesskit's
   * namespaces (as nerdctl does it: {@code nsenter -U --preserve-credentials -m -n -t CHILD_PID}).
   * Only for {@link #onContainerd}.
   */
  Run ctr(String namespace, String... args) throws IOException {
    String childPid =
        Files.readString(
                runtimeDir()
                    .resolve(RootlessContainerdCommand.ROOTLESSKIT_STATE)
                    .resolve("child_pid"))
            .strip();
    List<String> cmd = new ArrayList<>(asUser());
    cmd.addAll(
        List.of(
            "nsenter",
            "-U",
            "--preserve-credentials",
            "-m",
            "-n",
            "-t",
            childPid,
            clients.binary("ctr"),
            "--address",
            runtimeDir().resolve("containerd/containerd.sock").toString(),
            "-n",
            namespace));
    cmd.addAll(List.of(args));
    Run r = exec(cmd, null, COMMAND_TIMEOUT);
    return new Run(List.of("ctr", String.join(" ", args)), r.exit(), r.stdout(), r.stderr());
  }

  /** The layers layerd's data-root holds (its {@code layers/} directory), sorted. */
  List<Path> layerdLayers() throws IOException {
    Path layers = dir.resolve("data").resolve("layerd").resolve("layers");
    if (!Files.isDirectory(layers)) {
      return List.of();
    }
    try (var s = Files.list(layers)) {
      return s.sorted().toList();
    }
  }

  @Override
  Path inputs() {
    return dir.resolve("in");
  }

  @Override
  String logs() {
    return tail(dir.resolve("rootless.log"), 40);
  }

  @Override
  String describe() {
    return description;
  }

  /**
   * SIGTERM to the command (the script, or layerd rootless-containerd), which passes it through
   * rootlesskit: dockerd stops, then containerd, then layerd. Whatever outlives the grace period is
   * killed; then the directory goes.
   */
  @Override
  public void close() throws IOException {
    try {
      stop(script, Duration.ofSeconds(60));
    } finally {
      try {
        RootfulDocker.unmountUnder(dir);
        BuiltInReference.removeTree(dir);
      } finally {
        if (tun != null) {
          tun.close(); // the mode it had before (nested opens close in the reverse order)
        }
      }
    }
  }

  /** The log, for a test that checks how the stop went. */
  String log() throws IOException {
    return Files.readString(dir.resolve("rootless.log"));
  }
}
