package io.layerd.daemon;

import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.idmap.UnmappedIdPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The options of layerd's engine that every command starting one takes ({@code layerd}, {@code
 * layerd rootless-containerd}): data-root, driver, driver options, config file, log level, and how
 * containerd's differ compresses the layers it writes.
 */
final class EngineOptions {
  @Option(names = "--data-root", paramLabel = "DIR", description = "Where layers are kept.")
  Path dataRoot;

  @Option(
      names = "--driver",
      paramLabel = "NAME",
      description =
          "The storage driver (vfs, overlay2, fuse-overlayfs, btrfs). Default: the one whose"
              + " layers the data-root holds, else the first that works here.")
  String driver;

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "The JSON config file (it must exist when given).")
  Path config;

  @Option(
      names = "--storage-opt",
      paramLabel = "KEY=VALUE",
      description = "A driver option (repeatable).")
  Map<String, String> storageOpts;

  @Option(
      names = "--log-level",
      paramLabel = "LEVEL",
      description = "trace, debug, info (default), warn or error.")
  String logLevel;

  @Option(
      names = "--diff-compression",
      paramLabel = "fast|small",
      converter = CompressionConverter.class,
      description =
          "How layerd's differ (containerd 2.x: docker commit, ctr snapshots diff) compresses the"
              + " gzip layers it writes. fast (default): Intel ISA-L's deflate where libisal2 is"
              + " installed, layers about 5 to 7%% larger than containerd's for a sixth of the CPU"
              + " (without libisal2, as small). small: layers no larger than containerd's walking"
              + " differ's (java.util.zip's deflate, level 5). Both on every core; zstd layers are"
              + " zstd's level 3 either way.")
  DiffCompression diffCompression;

  /** Converts fast/small, naming the values when refused. */
  static final class CompressionConverter implements CommandLine.ITypeConverter<DiffCompression> {
    @Override
    public DiffCompression convert(String value) {
      try {
        return DiffCompression.parse(value, null);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** The command line's settings, with those of the command ({@code null}: not given). */
  Settings.Flags flags(
      Path socket,
      UnmappedIdPolicy unmappedIds,
      Duration shutdownTimeout,
      Path containerdSocket,
      Path containerdRoot,
      Path containerdAddress) {
    return new Settings.Flags(
        dataRoot,
        socket,
        driver,
        storageOpts == null ? null : new LinkedHashMap<>(storageOpts),
        unmappedIds,
        logLevel,
        shutdownTimeout,
        containerdSocket,
        containerdRoot,
        containerdAddress,
        diffCompression);
  }

  /** These options as arguments, for a command that runs layerd again. */
  List<String> args() {
    List<String> a = new ArrayList<>();
    add(a, "--data-root", dataRoot);
    add(a, "--driver", driver);
    add(a, "--config", config);
    add(a, "--log-level", logLevel);
    add(a, "--diff-compression", diffCompression);
    if (storageOpts != null) {
      storageOpts.forEach((k, v) -> a.addAll(List.of("--storage-opt", k + "=" + v)));
    }
    return a;
  }

  private static void add(List<String> a, String name, Object value) {
    if (value != null) {
      a.add(name);
      a.add(value.toString());
    }
  }
}
