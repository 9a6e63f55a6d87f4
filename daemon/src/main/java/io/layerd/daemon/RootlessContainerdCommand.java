package io.layerd.daemon;

import io.layerd.daemon.containerd.ContainerdConfig;
import io.layerd.engine.DefaultPaths;
import io.layerd.idmap.internal.RootlessMode;
import io.layerd.idmap.internal.RootlessNamespace;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerd rootless-containerd [--docker] [-- DOCKERD-ARGS...]}: containerd for an
 * unprivileged user with layerd as its snapshotter, the counterpart of containerd's {@code
 * containerd-rootless.sh} (and, with {@code --docker}, of Docker's {@code dockerd-rootless.sh} for
 * Docker 28 and later, which reach storage only through containerd).
 *
 * <p>Run by the user, it re-runs itself under rootlesskit: a user namespace of the user's
 * subordinate ids ({@code /etc/subuid}, {@code /etc/subgid}), a mount namespace with a private
 * {@code /run} ({@code --copy-up=/etc --copy-up=/run --propagation=rslave}) and, by default,
 * slirp4netns's network namespace. Inside, as root of the namespace, it starts layerd (in this
 * process: the engine, the graph-driver socket and containerd's snapshotter API, in the private
 * {@code /run/layerd}), then containerd with the config {@link ContainerdConfig} makes, then with
 * {@code --docker} {@code dockerd --rootless} on that containerd with the containerd image store
 * and layerd as its snapshotter. SIGTERM stops them in the reverse order.
 *
 * <p>Places, as rootless Docker and containerd have them:
 *
 * <table>
 *   <caption>places</caption>
 *   <tr><td>containerd's socket</td><td>$XDG_RUNTIME_DIR/containerd/containerd.sock</td></tr>
 *   <tr><td>containerd's state / root</td>
 *       <td>$XDG_RUNTIME_DIR/containerd / $XDG_DATA_HOME/containerd</td></tr>
 *   <tr><td>containerd's config (written at each start)</td>
 *       <td>$XDG_RUNTIME_DIR/layerd/containerd.toml</td></tr>
 *   <tr><td>layerd's data-root</td><td>$XDG_DATA_HOME/layerd (layerd's default)</td></tr>
 *   <tr><td>rootlesskit's state (child_pid, api.sock)</td>
 *       <td>$XDG_RUNTIME_DIR/layerd-rootlesskit</td></tr>
 *   <tr><td>dockerd (--docker)</td><td>its rootless defaults: $XDG_RUNTIME_DIR/docker.sock,
 *       $XDG_DATA_HOME/docker, $XDG_RUNTIME_DIR/docker</td></tr>
 * </table>
 */
@Command(
    name = "rootless-containerd",
    mixinStandardHelpOptions = true,
    description = {
      "Start containerd with layerd as its snapshotter \"layerd\", rootless: run as the user"
          + " (XDG_RUNTIME_DIR set), it re-runs itself under rootlesskit (a user namespace of"
          + " your /etc/subuid and /etc/subgid ranges, a private /run), starts layerd and"
          + " containerd inside, and with --docker also dockerd --rootless (Docker 28 or newer)"
          + " on that containerd with the containerd image store. SIGTERM stops them all.",
      "containerd listens on $XDG_RUNTIME_DIR/containerd/containerd.sock, dockerd on"
          + " $XDG_RUNTIME_DIR/docker.sock. ctr and nerdctl must run inside the namespaces:"
          + " nsenter -U --preserve-credentials -m -n -t $(cat"
          + " $XDG_RUNTIME_DIR/layerd-rootlesskit/child_pid) ctr --address"
          + " $XDG_RUNTIME_DIR/containerd/containerd.sock ...",
      "Environment: LAYERD_ROOTLESSKIT_FLAGS (more rootlesskit flags)."
    })
final class RootlessContainerdCommand implements Callable<Integer> {
  /** Where rootlesskit keeps its state, under $XDG_RUNTIME_DIR. */
  static final String ROOTLESSKIT_STATE = "layerd-rootlesskit";

  /** The network rootlesskit gives the namespace. */
  enum Net {
    /** slirp4netns (needs /dev/net/tun open to the user): what dockerd-rootless.sh uses. */
    slirp4netns,
    /** The host's network namespace: no network set-up, no containers' network; not for dockerd. */
    host
  }

  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
  private static final Path DEV_NET_TUN = Path.of("/dev/net/tun");

  @Option(
      names = "--docker",
      description =
          "Also start dockerd --rootless (28 or newer, found on PATH) on this containerd, with the"
              + " containerd image store and --storage-driver layerd.")
  boolean docker;

  @Option(
      names = "--net",
      paramLabel = "slirp4netns|host",
      description =
          "rootlesskit's network: slirp4netns (default; needs /dev/net/tun open to you), or host"
              + " (no network set-up; not with --docker: dockerd's /version then fails,"
              + " moby#51363).")
  Net net = Net.slirp4netns;

  @Mixin EngineOptions engine = new EngineOptions();

  @Parameters(paramLabel = "DOCKERD-ARGS", description = "Passed on to dockerd (with --docker).")
  List<String> dockerdArgs = new ArrayList<>();

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (!RootlessNamespace.inUserNamespace()) {
      return enter();
    }
    return runInside();
  }

  // ------------------------------------------------------------------ outside: rootlesskit

  private int enter() throws IOException, InterruptedException {
    if (Sys.geteuid() == 0) {
      throw new IOException(
          "layerd rootless-containerd is run by an unprivileged user; as root, start layerd with"
              + " --containerd-socket and containerd with the config `layerd config containerd`"
              + " prints");
    }
    RootlessNamespace.Plan plan = RootlessNamespace.plan(RootlessMode.TRUE);
    if (plan.decision() == RootlessNamespace.Decision.UNAVAILABLE) {
      throw new IOException(plan.failureMessage());
    }
    Path runtime = runtimeDir();
    if (!Files.isDirectory(runtime) || !Files.isWritable(runtime)) {
      throw new IOException(
          "XDG_RUNTIME_DIR=" + runtime + " is not a writable directory (one of mode 0700 you own)");
    }
    String rootlesskit = tool("rootlesskit", "rootlesskit");
    tool("containerd", "containerd");
    if (docker) {
      checkDockerd();
    }
    if (net == Net.slirp4netns) {
      tool("slirp4netns", "slirp4netns");
      if (!Files.isReadable(DEV_NET_TUN) || !Files.isWritable(DEV_NET_TUN)) {
        throw new IOException(
            "slirp4netns needs "
                + DEV_NET_TUN
                + ", which you cannot open: open it to users as most distributions do (`sudo chmod"
                + " 0666 /dev/net/tun`)"
                + (docker ? "" : ", or pass --net host (containers then have no network)"));
      }
    }
    List<String> cmd =
        rootlesskitCommand(
            rootlesskit,
            runtime,
            System.getenv().getOrDefault("LAYERD_ROOTLESSKIT_FLAGS", ""),
            RootlessNamespace.javaCommand(Main.class.getName(), args().toArray(new String[0])));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put(RootlessNamespace.CHILD_ENV, "1");
    return Foreground.run(pb, "layerd-rootless-containerd");
  }

  /** dockerd must be 28 or newer and must not run in the host's network namespace. */
  private void checkDockerd() throws IOException {
    Dockerd d = Dockerd.find();
    if (!d.containerdRoute()) {
      throw new IOException(
          d.path()
              + " is \""
              + d.versionLine()
              + "\": --docker needs dockerd "
              + Dockerd.FIRST_WITHOUT_PLUGINS
              + " or newer; Docker up to 27 uses layerd as a graph-driver plugin (`layerd"
              + " rootless-docker`)");
    }
    if (net == Net.host) {
      throw new IOException(
          "--net host does not work with dockerd --rootless (dockerd asks rootlesskit for its"
              + " network driver, which --net=host has none of, and /version fails: moby#51363):"
              + " use --net slirp4netns");
    }
  }

  /** The rootlesskit command that re-runs {@code inner} in the namespaces. */
  List<String> rootlesskitCommand(
      String rootlesskit, Path runtime, String extraFlags, List<String> inner) {
    List<String> cmd = new ArrayList<>(List.of(rootlesskit));
    if (net == Net.slirp4netns) {
      cmd.addAll(
          List.of(
              "--net=slirp4netns",
              "--mtu=65520",
              "--disable-host-loopback",
              "--port-driver=builtin"));
    } else {
      cmd.add("--net=host");
    }
    cmd.addAll(
        List.of(
            "--copy-up=/etc",
            "--copy-up=/run",
            "--propagation=rslave",
            "--state-dir=" + runtime.resolve(ROOTLESSKIT_STATE)));
    for (String f : extraFlags.trim().split("\\s+")) {
      if (!f.isEmpty()) {
        cmd.add(f);
      }
    }
    cmd.addAll(inner);
    return cmd;
  }

  /** This command's arguments, for the run inside the namespaces. */
  List<String> args() {
    List<String> a = new ArrayList<>(List.of("rootless-containerd", "--net", net.name()));
    if (docker) {
      a.add("--docker");
    }
    a.addAll(engine.args());
    if (!dockerdArgs.isEmpty()) {
      a.add("--");
      a.addAll(dockerdArgs);
    }
    return a;
  }

  /** $XDG_RUNTIME_DIR, where the sockets go (as rootless Docker's and containerd's). */
  private static Path runtimeDir() throws IOException {
    String r = System.getenv("XDG_RUNTIME_DIR");
    if (r == null || !r.startsWith("/")) {
      throw new IOException(
          "XDG_RUNTIME_DIR is not set: set it to a directory of mode 0700 that you own (systemd's"
              + " /run/user/$(id -u) after a login)");
    }
    return Path.of(r);
  }

  private static String tool(String name, String debianPackage) throws IOException {
    try {
      return RootlessNamespace.findTool(name);
    } catch (IOException e) {
      throw new IOException(
          name + " is not on PATH (Debian: apt-get install " + debianPackage + ")", e);
    }
  }

  // ------------------------------------------------------------------ inside: the daemons

  /** Where everything is, from XDG_RUNTIME_DIR and XDG_DATA_HOME (see the class comment). */
  record Places(Path runtime, Path dataHome) {
    /** rootlesskit's private /run: layerd's sockets, invisible outside the namespace. */
    static final Path LAYERD_RUN = Path.of("/run/layerd");

    Path pluginSocket() {
      return LAYERD_RUN.resolve("layerd.sock");
    }

    Path snapshotterSocket() {
      return LAYERD_RUN.resolve("snapshotter.sock");
    }

    Path containerdState() {
      return runtime.resolve("containerd");
    }

    Path containerdAddress() {
      return containerdState().resolve("containerd.sock");
    }

    Path containerdRoot() {
      return dataHome.resolve("containerd");
    }

    Path containerdConfig() {
      return runtime.resolve("layerd").resolve("containerd.toml");
    }

    /**
     * The containerd config: its places, and layerd as the snapshotter "layerd" and as the differ.
     */
    ContainerdConfig containerd(Path layerdDataRoot) {
      return ContainerdConfig.builder()
          .root(containerdRoot())
          .state(containerdState())
          .address(containerdAddress())
          .layerd(snapshotterSocket(), layerdDataRoot)
          .layerdDiffer(snapshotterSocket())
          .build();
    }
  }

  private int runInside() throws IOException, InterruptedException {
    DefaultPaths env =
        DefaultPaths.current(Sys.geteuid() == 0, RootlessNamespace.inUserNamespace());
    Places places = new Places(runtimeDir(), env.dataHome());
    if (env.underRootlesskit()) {
      // /run is rootlesskit's copy-up here: its entries are links to the host's, whose /run/docker,
      // /run/containerd and /run/layerd belong to the host's root (nobody here). Unlinking them
      // touches only this namespace's /run.
      for (String d : List.of("/run/docker", "/run/containerd", "/run/layerd")) {
        Path p = Path.of(d);
        if (Files.isSymbolicLink(p)) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(Places.LAYERD_RUN);
    Files.createDirectories(places.containerdConfig().getParent());
    Settings settings =
        Settings.resolve(
            engine.flags(
                places.pluginSocket(),
                null,
                null,
                places.snapshotterSocket(),
                places.containerdRoot(),
                places.containerdAddress()),
            engine.config,
            env);
    Main.configureLogging(settings.logLevel());
    try (Stack stack = new Stack()) {
      Runtime.getRuntime().addShutdownHook(new Thread(stack::close, "layerd-rootless-stop"));
      stack.daemon = Daemon.start(settings);
      Files.writeString(places.containerdConfig(), places.containerd(settings.dataRoot()).toToml());
      requireNoListener(places.containerdAddress(), "containerd");
      Files.deleteIfExists(places.containerdAddress());
      stack.containerd =
          stack.start(
              List.of(
                  RootlessNamespace.findTool("containerd"),
                  "--config",
                  places.containerdConfig().toString()));
      awaitSocket(stack.containerd, places.containerdAddress(), "containerd");
      log(
          "containerd listens on "
              + places.containerdAddress()
              + ", with layerd's snapshotter \"layerd\" (data in "
              + settings.dataRoot()
              + ")");
      if (docker) {
        stack.dockerd = stack.start(dockerdCommand(places, RootlessNamespace.findTool("dockerd")));
        log("dockerd --rootless on it: DOCKER_HOST=unix://" + places.runtime() + "/docker.sock");
      }
      Process ended = stack.awaitFirstExit();
      if (stack.stopping) {
        return 0;
      }
      log(
          (ended == stack.dockerd ? "dockerd" : "containerd")
              + " exited with status "
              + ended.exitValue()
              + "; stopping the others");
      return 1;
    }
  }

  /** dockerd --rootless on the containerd at {@code places}, with the containerd image store. */
  List<String> dockerdCommand(Places places, String dockerd) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                dockerd,
                "--rootless",
                "--containerd",
                places.containerdAddress().toString(),
                "--feature",
                "containerd-snapshotter=true",
                "--storage-driver",
                ContainerdConfig.SNAPSHOTTER_NAME));
    cmd.addAll(dockerdArgs);
    return cmd;
  }

  private static void log(String message) {
    System.err.println("layerd rootless-containerd: " + message);
  }

  /** Fails when something already listens on {@code socket} (another instance). */
  private static void requireNoListener(Path socket, String what) throws IOException {
    if (accepts(socket)) {
      throw new IOException(
          "a " + what + " already listens on " + socket + ": stop it first (one per user)");
    }
  }

  private static boolean accepts(Path socket) {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      return ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      return false;
    }
  }

  /** Waits until {@code p} accepts connections on {@code socket}; fails when it exits first. */
  private static void awaitSocket(Process p, Path socket, String what)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (!accepts(socket)) {
      if (p.waitFor(100, TimeUnit.MILLISECONDS)) {
        throw new IOException(
            what + " exited with status " + p.exitValue() + " before listening on " + socket);
      }
      if (System.nanoTime() > deadline) {
        throw new IOException(what + " did not listen on " + socket + " within " + START_TIMEOUT);
      }
    }
  }

  /** What runs inside, stopped in the reverse order: dockerd, containerd, then layerd. */
  private static final class Stack implements AutoCloseable {
    Daemon daemon;
    Process containerd;
    Process dockerd;
    volatile boolean stopping;
    private boolean closed;

    Process start(List<String> cmd) throws IOException {
      return new ProcessBuilder(cmd).inheritIO().start();
    }

    /** The first of containerd and dockerd to exit. */
    Process awaitFirstExit() throws InterruptedException {
      List<CompletableFuture<Process>> exits = new ArrayList<>();
      for (Process p : new Process[] {dockerd, containerd}) {
        if (p != null) {
          exits.add(p.onExit());
        }
      }
      try {
        return (Process) CompletableFuture.anyOf(exits.toArray(new CompletableFuture<?>[0])).get();
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      stopping = true;
      stop(dockerd);
      stop(containerd);
      if (daemon != null) {
        try {
          daemon.close();
        } catch (IOException | RuntimeException e) {
          log("stopping layerd: " + e.getMessage());
        }
      }
    }

    private static void stop(Process p) {
      if (p == null || !p.isAlive()) {
        return;
      }
      p.destroy();
      try {
        if (!p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          p.destroyForcibly();
          p.waitFor();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
