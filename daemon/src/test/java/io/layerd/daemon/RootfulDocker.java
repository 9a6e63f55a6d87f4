package io.layerd.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A rootful dockerd on private directories (data-root, exec-root, socket, pidfile under one
 * temporary directory; no network set-up). Either Debian 12's dockerd 20.10 with a built-in storage
 * driver or layerd started in this JVM on {@code /run/docker/plugins/NAME.sock} with a chosen
 * engine driver; or ({@link #onContainerd}) Docker 28 with the containerd image store on a private
 * containerd 2.1, with layerd's snapshotter or containerd's own.
 */
final class RootfulDocker extends DockerHost {
  private static final Path PLUGINS = Path.of("/run/docker/plugins");

  private final Path dir;
  private final String description;
  private final List<Path> createdRunDirs;
  private Daemon layerd;
  private Process dockerd;
  private ContainerdRig containerd;
  private List<String> cli = List.of(dockerBinary());

  private RootfulDocker(Path dir, String description, List<Path> createdRunDirs) {
    this.dir = dir;
    this.description = description;
    this.createdRunDirs = createdRunDirs;
  }

  /** dockerd with one of its own drivers (the reference). */
  static RootfulDocker builtIn(Path dir, String storageDriver) throws Exception {
    RootfulDocker d =
        new RootfulDocker(dir, "rootful dockerd, built-in " + storageDriver, runDirs());
    try {
      d.startDockerd(storageDriver);
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  /**
   * layerd (engine driver {@code driver}, data-root {@code layerdRoot}) and a dockerd using it. The
   * plugin's name is unique to this JVM, so that parallel builds do not meet.
   */
  static RootfulDocker withLayerd(Path dir, String driver, Path layerdRoot) throws Exception {
    String name = "layerd-e2e-" + ProcessHandle.current().pid() + "-" + driver;
    RootfulDocker d = new RootfulDocker(dir, "rootful dockerd on layerd's " + driver, runDirs());
    try {
      d.layerd = Daemon.start(Settings.of(layerdRoot, PLUGINS.resolve(name + ".sock"), driver));
      d.startDockerd(name);
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  /**
   * Docker 28 with the containerd image store on containerd 2.1, both from {@code clients}; layerd
   * started in this JVM serves containerd's snapshotter and diff APIs (engine driver {@code
   * driver}, data-root {@code layerdRoot}). containerd runs on the config {@code layerd config
   * containerd} prints and dockerd on the daemon.json {@code layerd config docker} prints, its
   * {@code storage-driver} set to {@code snapshotter}: {@code layerd}, or containerd's own {@code
   * overlayfs} for the reference. The docker CLI is Docker 28's, with buildx as its plugin. {@code
   * dir} must be short (unix sockets live in it).
   */
  static RootfulDocker onContainerd(
      Path dir, ModernClients clients, String driver, Path layerdRoot, String snapshotter)
      throws Exception {
    RootfulDocker d =
        new RootfulDocker(
            dir, "Docker 28 on containerd 2.1, " + storage(snapshotter, driver), runDirs());
    try {
      Files.createDirectories(dir);
      Path snapSocket = dir.resolve("s.sock");
      d.layerd =
          Daemon.start(
              Settings.of(layerdRoot, dir.resolve("g.sock"), driver)
                  .withContainerdSocket(snapSocket)
                  // containerd's root and socket as ContainerdRig makes them: layerd's differ
                  .withContainerd(dir.resolve("c/root"), dir.resolve("c/containerd.sock")));
      d.containerd =
          ContainerdRig.startWithLayerd(dir.resolve("c"), clients, snapSocket, layerdRoot);
      ObjectNode json =
          (ObjectNode)
              new ObjectMapper()
                  .readTree(
                      ContainerdRig.layerdConfig(
                          "config",
                          "docker",
                          "--containerd-address",
                          d.containerd.socket().toString()));
      json.put("storage-driver", snapshotter);
      Path daemonJson = dir.resolve("daemon.json");
      Files.writeString(daemonJson, json.toString());
      Path plugins = dir.resolve("cli").resolve("cli-plugins");
      Files.createDirectories(plugins);
      Files.createSymbolicLink(
          plugins.resolve("docker-buildx"), clients.cliPlugins().resolve("docker-buildx"));
      d.cli = List.of(clients.binary("docker"), "--config", dir.resolve("cli").toString());
      d.startDockerd(
          clients.binary("dockerd"),
          clients.environment(),
          List.of("--config-file", daemonJson.toString()));
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  /** The /run directories that do not exist yet (dockerd and layerd make them; we remove them). */
  private static List<Path> runDirs() {
    List<Path> out = new ArrayList<>();
    for (Path p : List.of(Path.of("/run/docker"), PLUGINS, Path.of("/run/containerd"))) {
      if (!Files.exists(p)) {
        out.add(p);
      }
    }
    return out;
  }

  private void startDockerd(String storageDriver) throws Exception {
    startDockerd("dockerd", Map.of(), List.of("--experimental", "--storage-driver", storageDriver));
  }

  private void startDockerd(String binary, Map<String, String> env, List<String> more)
      throws Exception {
    Files.createDirectories(dir);
    Path log = dir.resolve("dockerd.log");
    List<String> cmd = new ArrayList<>();
    cmd.addAll(
        List.of(
            binary,
            "--data-root",
            dir.resolve("dr").toString(),
            "--exec-root",
            dir.resolve("er").toString(),
            "-H",
            "unix://" + dir.resolve("docker.sock"),
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--pidfile",
            dir.resolve("docker.pid").toString()));
    cmd.addAll(more);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    dockerd =
        pb.redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    awaitReady(dockerd, Duration.ofSeconds(90));
  }

  Daemon layerd() {
    return layerd;
  }

  /** The containerd of {@link #onContainerd} (null otherwise). */
  ContainerdRig containerd() {
    return containerd;
  }

  @Override
  List<String> cli() {
    List<String> out = new ArrayList<>(cli);
    out.addAll(List.of("-H", "unix://" + dir.resolve("docker.sock")));
    return out;
  }

  @Override
  Path inputs() {
    return dir;
  }

  @Override
  String logs() {
    return tail(dir.resolve("dockerd.log"), 30)
        + (containerd == null ? "" : "\n--- containerd.log ---\n" + containerd.logTail(30));
  }

  @Override
  String describe() {
    return description;
  }

  /**
   * Stops dockerd (its containers, and its own containerd with it), the private containerd, then
   * layerd; removes what they made.
   */
  @Override
  public void close() throws IOException {
    try {
      stop(dockerd, Duration.ofSeconds(30));
    } finally {
      try {
        if (containerd != null) {
          containerd.close();
        }
      } finally {
        closeLayerd();
      }
    }
  }

  private void closeLayerd() throws IOException {
    try {
      if (layerd != null) {
        layerd.close();
      }
    } finally {
      unmountUnder(dir);
      // Deepest first; only directories this suite made, and only when nothing else is there.
      for (int i = createdRunDirs.size() - 1; i >= 0; i--) {
        removeEmptyTree(createdRunDirs.get(i));
      }
    }
  }

  /** A dockerd that fails part-way can leave mounts of its data-root: undo them. */
  static void unmountUnder(Path dir) throws IOException {
    io.layerd.testkit.TestFiles.unmountUnder(dir); // what stays shows in the removal that follows
  }

  private static void removeEmptyTree(Path p) {
    if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var s = Files.list(p)) {
      for (Path c : s.toList()) {
        removeEmptyTree(c);
      }
    } catch (IOException e) {
      return;
    }
    try {
      Files.deleteIfExists(p);
    } catch (IOException notEmpty) {
      // someone else's files: leave them
    }
  }
}
