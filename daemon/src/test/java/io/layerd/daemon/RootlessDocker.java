package io.layerd.daemon;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A rootless dockerd on layerd, started the way a user starts it: as the test user, with {@code
 * daemon/scripts/layerd-rootless-docker.sh} (rootlesskit, then layerd and dockerd inside its
 * namespaces). Everything lives under one directory: XDG_RUNTIME_DIR (mode 0700), XDG_DATA_HOME
 * (dockerd's and layerd's data), the inputs of the docker CLI, the logs.
 */
final class RootlessDocker extends DockerHost {
  private final TestUser user;
  private final Path dir;
  private final String driver;
  private Process script;

  private RootlessDocker(TestUser user, Path dir, String driver) {
    this.user = user;
    this.dir = dir;
    this.driver = driver;
  }

  private Path runtimeDir() {
    return dir.resolve("run");
  }

  static RootlessDocker start(TestUser user, Path dir, String driver) throws Exception {
    RootlessDocker d = new RootlessDocker(user, dir, driver);
    try {
      d.start();
    } catch (Exception | AssertionError e) {
      d.close();
      throw e;
    }
    return d;
  }

  private void start() throws Exception {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    for (String sub : List.of("run", "data", "in")) {
      Path p = Files.createDirectories(dir.resolve(sub));
      chown(p);
    }
    Files.setPosixFilePermissions(runtimeDir(), PosixFilePermissions.fromString("rwx------"));
    // A copy the user can surely run (the work tree may sit where the user cannot reach it).
    Path scriptPath = dir.resolve("layerd-rootless-docker.sh");
    Files.copy(
        DockerTestImage.repoRoot().resolve("daemon/scripts/layerd-rootless-docker.sh"), scriptPath);
    Files.setPosixFilePermissions(scriptPath, PosixFilePermissions.fromString("rwxr-xr-x"));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String layerd =
        String.join(
            " ",
            java,
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Dfile.encoding=UTF-8",
            "-Dsun.jnu.encoding=UTF-8",
            "-cp",
            ChildJvm.classpathCopy(),
            Main.class.getName());
    List<String> cmd = new ArrayList<>(asUser());
    cmd.addAll(
        List.of(
            "XDG_RUNTIME_DIR=" + runtimeDir(),
            "XDG_DATA_HOME=" + dir.resolve("data"),
            "LAYERD=" + layerd,
            "LAYERD_ARGS=--driver " + driver,
            "LAYERD_SOCKET_TIMEOUT=120",
            scriptPath.toString()));
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
    cmd.add(dockerBinary());
    return cmd;
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
    return "rootless dockerd (" + user.name() + ", rootlesskit) on layerd's " + driver;
  }

  /**
   * SIGTERM to rootlesskit, which forwards it to the script: dockerd stops, then layerd. Whatever
   * outlives the grace period is killed; then the directory goes.
   */
  @Override
  public void close() throws IOException {
    try {
      stop(script, Duration.ofSeconds(60));
    } finally {
      RootfulDocker.unmountUnder(dir);
      BuiltInReference.removeTree(dir);
    }
  }

  /** The log, for a test that checks how the stop went. */
  String log() throws IOException {
    return Files.readString(dir.resolve("rootless.log"));
  }
}
