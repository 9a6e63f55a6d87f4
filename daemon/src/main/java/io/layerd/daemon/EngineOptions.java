package io.layerd.daemon;

import io.layerd.idmap.UnmappedIdPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options of layerd's engine that every command starting one takes ({@code layerd}, {@code
 * layerd rootless-containerd}): data-root, driver, driver options, config file, log level.
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
        containerdAddress);
  }

  /** These options as arguments, for a command that runs layerd again. */
  List<String> args() {
    List<String> a = new ArrayList<>();
    add(a, "--data-root", dataRoot);
    add(a, "--driver", driver);
    add(a, "--config", config);
    add(a, "--log-level", logLevel);
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
