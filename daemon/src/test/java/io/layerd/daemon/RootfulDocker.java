package io.layerd.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A rootful dockerd on private directories (data-root, exec-root, socket, pidfile under one
 * temporary directory; no network set-up), with either a built-in storage driver or layerd started
 * in this JVM on {@code /run/docker/plugins/NAME.sock} with a chosen engine driver.
 */
final class RootfulDocker extends DockerHost {
  private static final Path PLUGINS = Path.of("/run/docker/plugins");

  private final Path dir;
  private final String description;
  private final List<Path> createdRunDirs;
  private Daemon layerd;
  private Process dockerd;

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
    Files.createDirectories(dir);
    Path log = dir.resolve("dockerd.log");
    List<String> cmd =
        List.of(
            "dockerd",
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
            dir.resolve("docker.pid").toString(),
            "--experimental",
            "--storage-driver",
            storageDriver);
    dockerd =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    awaitReady(dockerd, Duration.ofSeconds(90));
  }

  Daemon layerd() {
    return layerd;
  }

  @Override
  List<String> cli() {
    return List.of(dockerBinary(), "-H", "unix://" + dir.resolve("docker.sock"));
  }

  @Override
  Path inputs() {
    return dir;
  }

  @Override
  String logs() {
    return tail(dir.resolve("dockerd.log"), 30);
  }

  @Override
  String describe() {
    return description;
  }

  /** Stops dockerd (its containers and containerd with it), then layerd; removes what they made. */
  @Override
  public void close() throws IOException {
    try {
      stop(dockerd, Duration.ofSeconds(30));
    } finally {
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
