package io.layerd.engine.spi;

import java.nio.file.Path;
import java.util.Map;

/**
 * What a driver is given: its home directory inside the data-root (it keeps all its state there and
 * nowhere else), the facts of the host, and its options (from the config's storage options).
 */
public record DriverContext(Path dataRoot, Path home, Host host, Map<String, String> options) {
  public DriverContext {
    options = Map.copyOf(options);
  }
}
