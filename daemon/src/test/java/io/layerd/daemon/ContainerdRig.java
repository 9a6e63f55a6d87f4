package io.layerd.daemon;

import io.layerd.daemon.containerd.ContainerdConfig;
import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * A private, real containerd for tests (root only), driven with {@code ctr}: Debian 12's containerd
 * 1.6 on the PATH ({@link #start}), or today's containerd 2.1 from {@link ModernClients} on the
 * config {@code layerd config containerd} prints ({@link #startWithLayerd}). Everything it keeps
 * lives under one directory: {@code config.toml}, {@code containerd.log}, the socket {@code
 * containerd.sock}, {@code root/} and {@code state/}, and the FIFOs and runc state of {@link #run}.
 * The CRI plugin is off; with a proxy name, containerd also knows a snapshotter of that name served
 * over gRPC on a unix socket (a {@code [proxy_plugins]} entry).
 *
 * <p>Unix socket paths are limited to 108 bytes, so give it a short directory, e.g. {@code
 * Files.createTempDirectory(Path.of("/tmp"), "ctd")} (a JUnit {@code @TempDir} under a long {@code
 * java.io.tmpdir} may be too long).
 *
 * <pre>{@code
 * try (ContainerdRig rig = ContainerdRig.start(dir, null, null)) {
 *   rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), "native");
 *   String out = rig.run("busybox:1.38.0-glibc", "native", "c1", "echo", "hello");
 * }
 * }</pre>
 *
 * <p>What stays outside the directory: containerd 1.6's shims always put their sockets in {@code
 * /run/containerd/s/} (removed on {@link #close} when this rig made it and it is empty), and
 * containers get cgroups relative to the shim's own ({@code --cgroup=}), which runc removes when
 * the container goes.
 */
final class ContainerdRig implements AutoCloseable {
  /** The containerd namespace every {@code ctr} command of the rig works in. */
  static final String NAMESPACE = "layerd-test";

  /** How long {@code ctr} may take. */
  static final Duration CTR_TIMEOUT = Duration.ofMinutes(2);

  /** How long containerd may take to answer {@code ctr version}. */
  static final Duration START_TIMEOUT = Duration.ofSeconds(20);

  /** How long containerd gets between SIGTERM and SIGKILL. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

  /** The longest path a unix socket may have (sun_path is 108 bytes with the final NUL). */
  static final int MAX_SOCKET_PATH = 107;

  /** containerd 1.6's shim socket directory (fixed: {@code defaults.DefaultStateDir}). */
  private static final Path RUN_CONTAINERD = Path.of("/run/containerd");

  private static final Pattern BARE_KEY = Pattern.compile("[A-Za-z0-9_-]+");

  /** What one {@code ctr} command left. */
  record Result(int code, String out, String err) {}

  /**
   * The containerd and ctr binaries the rig runs, with what their environment adds.
   *
   * @param containerd the containerd binary
   * @param ctr the ctr binary
   * @param env added to the environment of both (PATH: containerd finds its shim there)
   */
  record Binaries(String containerd, String ctr, Map<String, String> env) {
    /** Debian 12's containerd 1.6 and ctr, found on the PATH. */
    static final Binaries ON_PATH = new Binaries("containerd", "ctr", Map.of());

    /** containerd 2.1's from the unpacked tree, its bin directories first on the PATH. */
    static Binaries of(ModernClients clients) {
      return new Binaries(
          clients.binary("containerd"), clients.binary("ctr"), clients.environment());
    }
  }

  private final Path dir;
  private final Path socket;
  private final boolean madeRunContainerd;
  private final Binaries binaries;
  private final AtomicInteger imports = new AtomicInteger();
  private Process containerd;
  private boolean closed;

  private ContainerdRig(Path dir, boolean madeRunContainerd, Binaries binaries) {
    this.dir = dir;
    this.socket = dir.resolve("containerd.sock");
    this.madeRunContainerd = madeRunContainerd;
    this.binaries = binaries;
  }

  /**
   * Writes {@code dir/config.toml}, starts containerd on it (output to {@code dir/containerd.log})
   * and waits until {@code ctr version} answers. {@code dir} should be short (see the class
   * comment); it is made when missing and removed by {@link #close}.
   *
   * @param proxyName when not null, a {@code [proxy_plugins.<proxyName>]} snapshotter is configured
   * @param proxySocket the unix socket of that proxy snapshotter (ignored when proxyName is null)
   */
  static ContainerdRig start(Path dir, String proxyName, Path proxySocket) throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    if (proxyName != null) {
      if (proxySocket == null) {
        throw new IllegalArgumentException("proxy " + proxyName + " needs a socket");
      }
      checkSocketPath(proxySocket.toAbsolutePath());
    }
    return start(
        d,
        Binaries.ON_PATH,
        () -> config(d, proxyName, proxySocket == null ? null : proxySocket.toAbsolutePath()));
  }

  /**
   * containerd 2.1 from {@code clients} on the config that {@code layerd config containerd} prints
   * for layerd's snapshotter on {@code layerdSocket} with data-root {@code layerdDataRoot}
   * (containerd's root, state and socket in {@code dir}; the CRI plugin off). The snapshotter is
   * {@code layerd}.
   */
  static ContainerdRig startWithLayerd(
      Path dir, ModernClients clients, Path layerdSocket, Path layerdDataRoot) throws IOException {
    return startWithLayerd(dir, clients, layerdSocket, layerdDataRoot, UnaryOperator.identity());
  }

  /** {@link #startWithLayerd}, on that config as {@code edit} changes it. */
  static ContainerdRig startWithLayerd(
      Path dir,
      ModernClients clients,
      Path layerdSocket,
      Path layerdDataRoot,
      UnaryOperator<String> edit)
      throws IOException {
    Path d = dir.toAbsolutePath().normalize();
    checkSocketPath(layerdSocket.toAbsolutePath());
    return start(
        d,
        Binaries.of(clients),
        () ->
            edit.apply(
                layerdConfig(
                    "config",
                    "containerd",
                    "--data-root",
                    layerdDataRoot.toAbsolutePath().toString(),
                    "--containerd-socket",
                    layerdSocket.toAbsolutePath().toString(),
                    "--containerd-root",
                    d.resolve("root").toString(),
                    "--containerd-state",
                    d.resolve("state").toString(),
                    "--containerd-address",
                    d.resolve("containerd.sock").toString(),
                    "--disable-plugin",
                    ContainerdConfig.CRI_PLUGIN)));
  }

  /** What {@code layerd ARGS} prints (it must succeed): the configs users install. */
  static String layerdConfig(String... args) throws IOException {
    java.io.StringWriter out = new java.io.StringWriter();
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cl = Main.commandLine();
    cl.setOut(new java.io.PrintWriter(out));
    cl.setErr(new java.io.PrintWriter(err));
    int code = cl.execute(args);
    if (code != 0) {
      throw new IOException("layerd " + String.join(" ", args) + " -> exit " + code + ": " + err);
    }
    return out.toString();
  }

  /** A config's text, made once the directory exists. */
  private interface ConfigText {
    String get() throws IOException;
  }

  private static ContainerdRig start(Path dir, Binaries binaries, ConfigText config)
      throws IOException {
    checkSocketPath(dir.resolve("containerd.sock.ttrpc"));
    Files.createDirectories(dir);
    ContainerdRig rig = new ContainerdRig(dir, !Files.exists(RUN_CONTAINERD), binaries);
    try {
      Files.writeString(dir.resolve("config.toml"), config.get());
      rig.launch();
    } catch (IOException | RuntimeException | Error e) {
      try {
        rig.close();
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return rig;
  }

  /** The text of config.toml. */
  static String config(Path dir, String proxyName, Path proxySocket) {
    StringBuilder b = new StringBuilder();
    b.append("version = 2\n");
    b.append("root = ").append(toml(dir.resolve("root").toString())).append('\n');
    b.append("state = ").append(toml(dir.resolve("state").toString())).append('\n');
    b.append("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n");
    b.append("\n[grpc]\n");
    b.append("  address = ").append(toml(dir.resolve("containerd.sock").toString())).append('\n');
    if (proxyName != null) {
      String key = BARE_KEY.matcher(proxyName).matches() ? proxyName : toml(proxyName);
      b.append("\n[proxy_plugins.").append(key).append("]\n");
      b.append("  type = \"snapshot\"\n");
      b.append("  address = ").append(toml(proxySocket.toString())).append('\n');
    }
    return b.toString();
  }

  /** A TOML basic string. */
  private static String toml(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20 || c == 0x7f) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  private static void checkSocketPath(Path p) {
    int n = p.toString().getBytes(StandardCharsets.UTF_8).length;
    if (n > MAX_SOCKET_PATH) {
      throw new IllegalArgumentException(
          "socket path too long for a unix socket ("
              + n
              + " > "
              + MAX_SOCKET_PATH
              + " bytes): "
              + p
              + "; use a short directory such as Files.createTempDirectory(Path.of(\"/tmp\"),"
              + " \"ctd\")");
    }
  }

  private void launch() throws IOException {
    Path log = dir.resolve("containerd.log");
    containerd =
        withEnvironment(
                new ProcessBuilder(
                    binaries.containerd(), "--config", dir.resolve("config.toml").toString()))
            .directory(new File("/"))
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    Result last = null;
    while (true) {
      if (!containerd.isAlive()) {
        throw new IOException(
            "containerd exited with code "
                + containerd.exitValue()
                + " before it answered; "
                + log
                + " ends:\n"
                + logTail(40));
      }
      if (Files.exists(socket)) {
        last = exec(List.of(binaries.ctr(), "--address", socket.toString(), "version"), secs(5));
        if (last.code() == 0) {
          return;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IOException(
            "containerd did not answer ctr version within "
                + START_TIMEOUT.toSeconds()
                + " s"
                + (last == null ? " (no socket " + socket + ")" : ": " + last.err().strip())
                + "; "
                + log
                + " ends:\n"
                + logTail(40));
      }
      sleep(100);
    }
  }

  private ProcessBuilder withEnvironment(ProcessBuilder pb) {
    pb.environment().putAll(binaries.env());
    return pb;
  }

  /** The directory the rig lives in. */
  Path dir() {
    return dir;
  }

  /** containerd's gRPC socket. */
  Path socket() {
    return socket;
  }

  /** The last {@code lines} lines of containerd's log (for failure messages). */
  String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(dir.resolve("containerd.log"), StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Runs {@code ctr --address SOCK --namespace layerd-test ARGS...} (120 s at most). */
  Result ctr(String... args) throws IOException {
    return exec(command(args), CTR_TIMEOUT);
  }

  /** {@link #ctr}, which must exit 0 (else an AssertionError with the command and its output). */
  Result ok(String... args) throws IOException {
    Result r = ctr(args);
    if (r.code() != 0) {
      throw new AssertionError(
          String.join(" ", command(args))
              + " -> "
              + (r.code() == -1 ? "timed out" : "exit " + r.code())
              + "\n  stdout: "
              + r.out().strip()
              + "\n  stderr: "
              + r.err().strip()
              + "\n  containerd.log ends:\n"
              + logTail(15));
    }
    return r;
  }

  /** {@link #ok} with the standard output (binary: a layer) written to {@code stdout}. */
  void okTo(Path stdout, String... args) throws IOException {
    DockerHost.Run r = DockerHost.exec(command(args), stdout, CTR_TIMEOUT, binaries.env());
    if (r.exit() != 0) {
      throw new AssertionError(
          String.join(" ", command(args))
              + " -> exit "
              + r.exit()
              + ": "
              + r.stderr().strip()
              + "\n  containerd.log ends:\n"
              + logTail(15));
    }
  }

  /** {@link #ok} in another containerd namespace (dockerd's is {@code moby}). */
  Result okIn(String namespace, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(command(args));
    cmd.set(cmd.indexOf(NAMESPACE), namespace);
    Result r = exec(cmd, CTR_TIMEOUT);
    if (r.code() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " -> exit " + r.code() + ": " + r.err());
    }
    return r;
  }

  private List<String> command(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.addAll(List.of(binaries.ctr(), "--address", socket.toString(), "--namespace", NAMESPACE));
    cmd.addAll(Arrays.asList(args));
    return cmd;
  }

  /**
   * Imports an image and unpacks it with {@code snapshotter}: a {@code docker save} or OCI archive
   * as it is, an OCI image layout directory as a tar made of it first. Images are named after the
   * archive ({@code RepoTags} of a docker-save tar, normalized to {@code docker.io/library/...};
   * the {@code io.containerd.image.name} or {@code org.opencontainers.image.ref.name} annotation of
   * an OCI index, kept as it is, e.g. {@code busybox:1.38.0-glibc}).
   */
  void importImage(Path dockerSaveOrOciTar, String snapshotter) throws IOException {
    Path tar = dockerSaveOrOciTar;
    Path made = null;
    if (Files.isDirectory(dockerSaveOrOciTar)) {
      made = dir.resolve("import-" + imports.incrementAndGet() + ".tar");
      Result t =
          exec(
              List.of("tar", "-C", dockerSaveOrOciTar.toString(), "-cf", made.toString(), "."),
              CTR_TIMEOUT);
      if (t.code() != 0) {
        throw new IOException("tar of " + dockerSaveOrOciTar + " failed: " + t.err().strip());
      }
      tar = made;
    }
    try {
      ok("images", "import", "--snapshotter", snapshotter, tar.toAbsolutePath().toString());
    } finally {
      if (made != null) {
        Files.deleteIfExists(made);
      }
    }
  }

  /** The names of the images containerd has ({@code ctr images ls -q}). */
  List<String> images() throws IOException {
    return ok("images", "ls", "-q").out().lines().filter(l -> !l.isBlank()).toList();
  }

  /**
   * Runs {@code command} in a new container {@code containerId} of {@code image} on {@code
   * snapshotter}, removed afterwards; returns its standard output (it must exit 0). No network set-
   * up (the container gets its own, empty network namespace); its cgroup is relative to the shim's;
   * FIFOs and runc state under the rig's directory.
   */
  String run(String image, String snapshotter, String containerId, String... command)
      throws IOException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "run",
                "--rm",
                "--snapshotter",
                snapshotter,
                "--cgroup=",
                "--fifo-dir",
                dir.resolve("fifo").toString(),
                "--runc-root",
                dir.resolve("runc").toString(),
                image,
                containerId));
    args.addAll(Arrays.asList(command));
    return ok(args.toArray(String[]::new)).out();
  }

  /**
   * Removes what is left in the namespace (tasks killed, containers deleted), stops containerd
   * (SIGTERM, SIGKILL after 10 s) and any shim of it still there, unmounts whatever is mounted
   * under the directory (deepest first, lazily) and removes the directory.
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    IOException failure = null;
    try {
      if (containerd != null && containerd.isAlive()) {
        removeContainers();
      }
    } catch (IOException | RuntimeException | AssertionError e) {
      // best effort: containerd goes anyway
    }
    stopContainerd();
    killShims();
    try {
      unmountUnder(dir);
    } catch (IOException e) {
      failure = e;
    }
    try {
      io.layerd.testkit.TestFiles.deleteTree(dir);
    } catch (IOException e) {
      if (failure == null) {
        failure = e;
      } else {
        failure.addSuppressed(e);
      }
    }
    if (madeRunContainerd) {
      deleteIfEmpty(RUN_CONTAINERD.resolve("s"));
      deleteIfEmpty(RUN_CONTAINERD);
    }
    if (failure != null) {
      throw failure;
    }
  }

  private void removeContainers() throws IOException {
    Result tasks = exec(command("tasks", "ls", "-q"), secs(20));
    for (String id : tasks.out().lines().filter(l -> !l.isBlank()).toList()) {
      exec(command("tasks", "kill", "--signal", "SIGKILL", id), secs(20));
      exec(command("tasks", "delete", "--force", id), secs(30));
    }
    Result containers = exec(command("containers", "ls", "-q"), secs(20));
    for (String id : containers.out().lines().filter(l -> !l.isBlank()).toList()) {
      exec(command("containers", "delete", id), secs(30));
    }
  }

  private void stopContainerd() {
    if (containerd == null) {
      return;
    }
    try {
      containerd.destroy(); // SIGTERM
      if (!containerd.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        containerd.destroyForcibly();
        containerd.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      containerd.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Shims outlive containerd: kill those started for this rig's socket (and what they run). */
  private void killShims() {
    String address = socket.toString();
    ProcessHandle.allProcesses()
        .filter(
            p -> {
              List<String> argv = p.info().arguments().map(List::of).orElse(List.of());
              String exe = p.info().command().orElse("");
              return exe.contains("containerd-shim") && argv.contains(address);
            })
        .forEach(
            shim -> {
              shim.descendants().forEach(ProcessHandle::destroyForcibly);
              shim.destroyForcibly();
            });
  }

  /**
   * Lazily unmounts every mount point at or under {@code root}, deepest first; fails if any stays.
   */
  static void unmountUnder(Path root) throws IOException {
    List<String> failed = io.layerd.testkit.TestFiles.unmountUnder(root);
    if (!failed.isEmpty()) {
      throw new IOException("could not unmount " + failed);
    }
  }

  private static void deleteIfEmpty(Path d) {
    try {
      Files.deleteIfExists(d);
    } catch (DirectoryNotEmptyException e) {
      // another containerd uses it
    } catch (IOException e) {
      // best effort
    }
  }

  private static Duration secs(long s) {
    return Duration.ofSeconds(s);
  }

  private static void sleep(long millis) throws InterruptedIOException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted");
    }
  }

  /**
   * Runs a command from /, standard input /dev/null, its output captured in temporary files, with
   * the binaries' environment; on time-out it and its descendants are killed and the code is -1.
   */
  Result exec(List<String> cmd, Duration timeout) throws IOException {
    DockerHost.Run r = DockerHost.exec(cmd, null, timeout, binaries.env());
    return new Result(r.exit(), r.stdout(), r.stderr());
  }
}
