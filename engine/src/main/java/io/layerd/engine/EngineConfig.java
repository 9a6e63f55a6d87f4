package io.layerd.engine;

import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.Host;
import io.layerd.unpack.OwnerMapper;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How to open an engine. {@code driver} is an explicit choice or null; {@code owners} maps layer
 * owners on ApplyDiff (identity as root, the namespace's mapping rootless, Docker's UIDMaps with
 * --userns-remap).
 */
public record EngineConfig(
    Path dataRoot,
    String driver,
    Map<String, String> options,
    Host host,
    List<DriverProvider> providers,
    OwnerMapper owners) {
  public EngineConfig {
    Objects.requireNonNull(dataRoot, "dataRoot");
    options = Map.copyOf(options);
    Objects.requireNonNull(host, "host");
    providers = List.copyOf(providers);
    Objects.requireNonNull(owners, "owners");
  }

  /** Defaults for a data-root: drivers from the class path, the real host, identity owners. */
  public static EngineConfig of(Path dataRoot, String driver) throws java.io.IOException {
    return new EngineConfig(
        dataRoot,
        driver,
        Map.of(),
        Host.current(),
        DriverSelector.installed(),
        OwnerMapper.identity());
  }
}
