package io.layerd.daemon;

import io.layerd.daemon.containerd.ContainerdConfig;
import io.layerd.daemon.containerd.DockerDaemonConfig;
import io.layerd.engine.DefaultPaths;
import io.layerd.idmap.internal.RootlessNamespace;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code layerd config containerd|docker}: the configs that put layerd under containerd 2.x and
 * Docker 28 and later (the containerd image store), printed for the user to install.
 */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    description = {
      "Print the configuration that makes layerd containerd's snapshotter \"layerd\" (containerd"
          + " 2.x), and Docker's storage through it (Docker 28 and later, containerd image store)."
    },
    subcommands = {ConfigCommand.Containerd.class, ConfigCommand.Docker.class})
final class ConfigCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(
        spec.commandLine(), "say which config: layerd config containerd, or layerd config docker");
  }

  /** containerd's own places, as the user gives them or containerd's defaults. */
  static final class ContainerdPlaces {
    @Option(
        names = "--containerd-address",
        paramLabel = "PATH",
        description =
            "containerd's gRPC socket. Default: /run/containerd/containerd.sock as root,"
                + " $XDG_RUNTIME_DIR/containerd/containerd.sock as a user.")
    Path address;

    Path address(DefaultPaths env) {
      return address != null ? address : state(env, null).resolve("containerd.sock");
    }

    static Path state(DefaultPaths env, Path given) {
      if (given != null) {
        return given;
      }
      return env.realRoot() || env.underRootlesskit()
          ? Path.of("/run/containerd")
          : env.runtimeDir("--containerd-state and --containerd-address").resolve("containerd");
    }
  }

  /** {@code layerd config containerd}. */
  @Command(
      name = "containerd",
      mixinStandardHelpOptions = true,
      description = {
        "Print a containerd 2.x config (TOML, version 3) in which layerd is the snapshotter"
            + " \"layerd\": [proxy_plugins.layerd] on layerd's --containerd-socket, exports.root ="
            + " layerd's data-root, layerd's capabilities, and the transfer service's unpack"
            + " entries (containerd's overlayfs and layerd, for the host's platform) so that"
            + " `ctr images import --snapshotter layerd` unpacks; and layerd's differ"
            + " \"layerd-diff\" (same socket) first in the diff service's chain, before"
            + " containerd's walking differ, and for layerd's unpack entry.",
        "Install it as containerd's config (/etc/containerd/config.toml) and start layerd with"
            + " the same --data-root and --containerd-socket (they default to layerd's settings:"
            + " its config file, else /var/lib/layerd and /run/layerd/snapshotter.sock as root)."
      })
  static final class Containerd implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--data-root", paramLabel = "DIR", description = "layerd's data-root.")
    Path dataRoot;

    @Option(
        names = "--containerd-socket",
        paramLabel = "PATH",
        description = "Where layerd serves containerd's snapshotter API.")
    Path containerdSocket;

    @Option(
        names = "--config",
        paramLabel = "FILE",
        description = "layerd's JSON config file, whose data-root and containerd-socket apply.")
    Path config;

    @Option(
        names = "--containerd-root",
        paramLabel = "DIR",
        description =
            "containerd's root. Default: /var/lib/containerd as root,"
                + " $XDG_DATA_HOME/containerd as a user.")
    Path containerdRoot;

    @Option(
        names = "--containerd-state",
        paramLabel = "DIR",
        description =
            "containerd's state. Default: /run/containerd as root,"
                + " $XDG_RUNTIME_DIR/containerd as a user.")
    Path containerdState;

    @CommandLine.Mixin ContainerdPlaces places = new ContainerdPlaces();

    @Option(
        names = "--platform",
        paramLabel = "OS/ARCH",
        description = "The platform of the unpack entries. Default: the host's (${DEFAULT-VALUE}).")
    String platform = ContainerdConfig.hostPlatform();

    @Option(
        names = "--disable-plugin",
        paramLabel = "ID",
        description =
            "A containerd plugin not to load (repeatable), e.g. io.containerd.grpc.v1.cri.")
    List<String> disabled = new ArrayList<>();

    @Option(
        names = "--no-differ",
        description =
            "Leave layerd's differ out: containerd's walking differ applies layers and computes"
                + " diffs, layerd is the snapshotter only (as with containerd 1.x).")
    boolean noDiffer;

    @Override
    public Integer call() throws IOException {
      DefaultPaths env = environment();
      Settings layerd = layerdSettings(dataRoot, containerdSocket, config, env);
      Path socket =
          layerd.containerdSocket() != null ? layerd.containerdSocket() : env.containerdSocket();
      Path state = ContainerdPlaces.state(env, containerdState);
      Path root = containerdRoot != null ? containerdRoot : env.containerdRoot();
      Path address = places.address != null ? places.address : state.resolve("containerd.sock");
      ContainerdConfig.Builder b =
          ContainerdConfig.builder()
              .root(root)
              .state(state)
              .address(address)
              .platform(platform)
              .layerd(socket, layerd.dataRoot());
      if (!noDiffer) {
        b.layerdDiffer(socket);
      }
      b.disable(disabled.toArray(String[]::new));
      PrintWriter out = spec.commandLine().getOut();
      out.println(
          "# containerd 2.x config: layerd is the snapshotter \"layerd\" (ctr --snapshotter");
      out.println(
          "# layerd; dockerd 28+ --storage-driver layerd with the containerd image store).");
      out.println(
          "# Serve it with: layerd --data-root " + layerd.dataRoot() + " --containerd-socket");
      out.println(
          "#   "
              + socket
              + (noDiffer
                  ? ""
                  : " --containerd-root " + root + " --containerd-address " + address));
      if (!noDiffer) {
        out.println(
            "# (layerd's differ \"layerd-diff\" reads layers from the root's blob directory and");
        out.println("# writes the layers of commits through containerd's socket.)");
      }
      out.println("# Stream processors stay containerd's (by default, ocicrypt's ctd-decoder for");
      out.println("# +encrypted layers): put [stream_processors.'ID'] tables after these lines.");
      out.print(b.build().toToml());
      out.flush();
      return 0;
    }
  }

  /** {@code layerd config docker}. */
  @Command(
      name = "docker",
      mixinStandardHelpOptions = true,
      description = {
        "Print dockerd's daemon.json for Docker 28 and later on layerd: the containerd image store"
            + " (features.containerd-snapshotter), storage-driver layerd, and \"containerd\": the"
            + " socket of the containerd configured by `layerd config containerd` (the same as"
            + " dockerd --containerd PATH).",
        "Install it as /etc/docker/daemon.json (rootless: ~/.config/docker/daemon.json)."
      })
  static final class Docker implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin ContainerdPlaces places = new ContainerdPlaces();

    @Override
    public Integer call() throws IOException {
      Path address = places.address(environment());
      PrintWriter out = spec.commandLine().getOut();
      out.print(DockerDaemonConfig.toJson(DockerDaemonConfig.of(address)));
      out.flush();
      PrintWriter err = spec.commandLine().getErr();
      err.println(
          "layerd: dockerd must use the containerd at "
              + address
              + " (the \"containerd\" key above, or dockerd --containerd "
              + address
              + "), whose config is `layerd config containerd`; graph-driver plugins are gone"
              + " from Docker 28.");
      err.flush();
      return 0;
    }
  }

  static DefaultPaths environment() throws IOException {
    return DefaultPaths.current(Sys.geteuid() == 0, RootlessNamespace.inUserNamespace());
  }

  /** layerd's settings as the daemon resolves them (flags, config file, defaults). */
  static Settings layerdSettings(
      Path dataRoot, Path containerdSocket, Path config, DefaultPaths env) throws IOException {
    // The graph-driver socket plays no part in containerd's config: given, so that a user without
    // XDG_RUNTIME_DIR is not asked for it.
    Settings.Flags flags =
        new Settings.Flags(
            dataRoot,
            DefaultPaths.DOCKER_PLUGIN_SOCKET,
            null,
            null,
            null,
            null,
            null,
            containerdSocket,
            null,
            null,
            null);
    return Settings.resolve(flags, config, env);
  }
}
