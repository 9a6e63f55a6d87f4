package io.layerd.daemon;

import io.layerd.engine.DefaultPaths;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRange;
import io.layerd.idmap.UnmappedIdPolicy;
import io.layerd.idmap.internal.RootlessException;
import io.layerd.idmap.internal.RootlessMode;
import io.layerd.idmap.internal.RootlessNamespace;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code layerd}: the graph-driver daemon that dockerd uses with {@code --experimental
 * --storage-driver layerd}.
 */
@Command(
    name = "layerd",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Serve layerd's storage engine to dockerd as a graph-driver plugin, on a unix socket.",
      "dockerd (20.10 and later up to 27) uses it when started with --experimental"
          + " --storage-driver layerd; it finds the socket at /run/docker/plugins/layerd.sock (for"
          + " a rootless dockerd: the same path inside rootlesskit's namespace; see"
          + " `layerd rootless-docker`).",
      "Defaults, as rootless Docker's: as root, data in /var/lib/layerd, the socket"
          + " /run/docker/plugins/layerd.sock and the config /etc/layerd/config.json; as a user,"
          + " ~/.local/share/layerd, $XDG_RUNTIME_DIR/layerd/layerd.sock and"
          + " ~/.config/layerd/config.json. SIGTERM lets requests in flight finish, then unmounts."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  # containerd 2.x and Docker 28+ (the containerd image store):",
      "  layerd --containerd-socket /run/layerd/snapshotter.sock",
      "  layerd config containerd > /etc/containerd/config.toml",
      "  layerd config docker > /etc/docker/daemon.json",
      "  # Docker 20.10 to 27, as root: then dockerd --experimental --storage-driver layerd",
      "  layerd",
      "  # the same rootless (a user's dockerd under rootlesskit):",
      "  layerd rootless-docker",
      "  # rootless containerd 2.x (and with --docker, Docker 28+) on layerd:",
      "  layerd rootless-containerd --docker",
      ""
    },
    subcommands = {
      CommandLine.HelpCommand.class,
      RootlessDockerCommand.class,
      RootlessContainerdCommand.class,
      ConfigCommand.class
    })
public final class Main implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Mixin EngineOptions engine = new EngineOptions();

  @Option(names = "--socket", paramLabel = "PATH", description = "The unix socket to listen on.")
  Path socket;

  @Option(
      names = "--on-unmapped-id",
      paramLabel = "fail|squash|skip",
      description =
          "What ApplyDiff does with a file owner the id mapping cannot represent (as layerctl's"
              + " option of the same name): fail (default), squash or skip.")
  String unmappedIds;

  /** The option's earlier name, kept working and out of the help. */
  @Option(names = "--unmapped-ids", hidden = true)
  void deprecatedUnmappedIds(String value) {
    unmappedIds = value;
  }

  @Option(
      names = "--shutdown-timeout",
      paramLabel = "SECONDS",
      description = "How long SIGTERM waits for requests in flight. Default: 30.")
  Long shutdownTimeout;

  @Option(
      names = "--containerd-socket",
      paramLabel = "PATH",
      description =
          "Also serve containerd's snapshotter and diff APIs (a proxy snapshotter and differ) on"
              + " this unix socket; containerd's config names it under [proxy_plugins] with type ="
              + " \"snapshot\" and type = \"diff\"."
              + " Default: not served.")
  Path containerdSocket;

  @Option(
      names = "--containerd-root",
      paramLabel = "DIR",
      description =
          "containerd's root directory: as containerd's differ, layerd reads layers from its blob"
              + " directory. Default: /var/lib/containerd (a user's: $XDG_DATA_HOME/containerd).")
  Path containerdRoot;

  @Option(
      names = "--containerd-address",
      paramLabel = "PATH",
      description =
          "containerd's own socket: as containerd's differ, layerd writes the layers of commits"
              + " through its content service. Default: /run/containerd/containerd.sock.")
  Path containerdAddress;

  @Option(
      names = "--rootless",
      paramLabel = "auto|true|false",
      defaultValue = "auto",
      converter = ModeConverter.class,
      description =
          "Started by a non-root user outside a user namespace: re-run inside a rootless user"
              + " namespace of the user's subordinate ids (auto: when possible; true: or fail"
              + " with the remedy; false: never). Under rootlesskit layerd already is in one."
              + " Default: ${DEFAULT-VALUE}.")
  RootlessMode rootless = RootlessMode.AUTO;

  /** Converts auto/true/false. */
  static final class ModeConverter implements CommandLine.ITypeConverter<RootlessMode> {
    @Override
    public RootlessMode convert(String value) {
      try {
        return RootlessMode.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    try {
      RootlessNamespace.reexecIfNeeded(
          rootless,
          Main.class.getName(),
          spec.commandLine().getParseResult().originalArgs().toArray(new String[0]),
          warning -> System.err.println("layerd: warning: " + warning));
    } catch (RootlessException e) {
      throw new IOException(e.getMessage(), e);
    }
    Settings settings = settings();
    configureLogging(settings.logLevel());
    String rootless = rootlessSummary(IdMappings.current(), System.getenv());
    if (rootless != null) {
      org.slf4j.LoggerFactory.getLogger(Main.class).info(rootless);
    }
    Daemon daemon = Daemon.start(settings);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    daemon.close();
                  } catch (IOException | RuntimeException e) {
                    System.err.println("layerd: stopping: " + e.getMessage());
                  } finally {
                    stopped.countDown();
                  }
                },
                "layerd-shutdown"));
    stopped.await(); // until SIGTERM/SIGINT runs the hook
    return 0;
  }

  Settings settings() throws IOException {
    Settings.Flags flags =
        engine.flags(
            socket,
            unmappedIds == null ? null : UnmappedIdPolicy.parse(unmappedIds),
            shutdownTimeout == null ? null : Duration.ofSeconds(shutdownTimeout),
            containerdSocket,
            containerdRoot,
            containerdAddress);
    boolean userNs = RootlessNamespace.inUserNamespace();
    return Settings.resolve(flags, engine.config, DefaultPaths.current(Sys.geteuid() == 0, userNs));
  }

  /**
   * What the log says at start when layerd runs rootless (inside a user namespace): that it does,
   * who made the namespace, and the mapping, e.g. {@code running rootless in a user namespace that
   * layerd entered itself (newuidmap, newgidmap): uids 0 -> host 1000, 1-65536 -> host
   * 100000-165535; gids ...}. Null outside a user namespace.
   */
  static String rootlessSummary(IdMappings m, Map<String, String> env) {
    if (m.uids().isIdentity()) {
      return null;
    }
    String by =
        "1".equals(env.get(RootlessNamespace.CHILD_ENV))
            ? "that layerd entered itself (newuidmap, newgidmap over /etc/subuid, /etc/subgid)"
            : env.containsKey("ROOTLESSKIT_STATE_DIR")
                ? "made by rootlesskit"
                : "made by its parent";
    return "running rootless in a user namespace "
        + by
        + ": uids "
        + ranges(m.uids())
        + "; gids "
        + ranges(m.gids());
  }

  private static String ranges(IdMapping m) {
    if (m.ranges().isEmpty()) {
      return "none mapped";
    }
    List<String> out = new ArrayList<>();
    for (IdRange r : m.ranges()) {
      out.add(span(r.containerId(), r.size()) + " -> host " + span(r.hostId(), r.size()));
    }
    return String.join(", ", out);
  }

  private static String span(long first, long size) {
    return size == 1 ? Long.toString(first) : first + "-" + (first + size - 1);
  }

  /** slf4j-simple reads its settings once, when the first logger is made: before anything logs. */
  static void configureLogging(String level) {
    String l = level.toLowerCase(Locale.ROOT);
    if (!List.of("trace", "debug", "info", "warn", "error").contains(l)) {
      throw new IllegalArgumentException(
          "unknown log level \"" + level + "\": trace, debug, info, warn or error");
    }
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", l);
    setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
    setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
    setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
    setIfAbsent("org.slf4j.simpleLogger.log.org.eclipse.jetty", l.equals("trace") ? l : "warn");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  /** Builds the command line; tests use it too. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (ex, c, parseResult) -> {
          if ("1".equals(System.getenv("LAYERD_DEBUG"))) {
            ex.printStackTrace(System.err);
          }
          String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
          c.getErr().println("layerd: " + msg);
          c.getErr().flush();
          return 1;
        });
    // A usage error is its message and a pointer to the help, as layerctl's (not the whole help).
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          CommandLine c = ex.getCommandLine();
          String name = c.getCommandSpec().qualifiedName();
          c.getErr().println(name + ": " + ex.getMessage());
          c.getErr().println("  see '" + name + " --help'");
          c.getErr().flush();
          return c.getCommandSpec().exitCodeOnInvalidInput();
        });
    return cl;
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The version from the jar's manifest, or "dev". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"layerd " + (v == null ? "dev" : v)};
    }
  }

  /** The jar or classes directory this class was loaded from. */
  static Path codeSource() {
    try {
      return Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The command that runs this same layerd: java, the JVM's options, the class path, Main. */
  static List<String> selfCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Dfile.encoding=UTF-8");
    cmd.add("-Dsun.jnu.encoding=UTF-8");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    return cmd;
  }
}
