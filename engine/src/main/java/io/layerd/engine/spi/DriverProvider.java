package io.layerd.engine.spi;

import java.io.IOException;

/**
 * Finds and opens one kind of driver; registered for {@link java.util.ServiceLoader} in {@code
 * META-INF/services/io.layerd.engine.spi.DriverProvider}.
 */
public interface DriverProvider {
  /** The driver's name ("overlay2"). */
  String name();

  /**
   * Place in the automatic choice: lower first (overlay2 10, fuse-overlayfs 20, btrfs 30, vfs 100).
   */
  int priority();

  /**
   * Checks for real whether the driver can serve this data-root (kernel version, a test mount,
   * helper binaries, the backing filesystem): returns the reasons it can, or throws the typed
   * refusal saying why not. Must not leave anything behind but what it documents.
   */
  Probe probe(DriverContext context) throws DriverRefusal, IOException;

  /**
   * What else on this host the probe's verdict depends on, as short strings the engine keeps in the
   * probe cache's key (a helper binary's path, size and modification time, say): when one changes,
   * the cached verdict is not used. The kernel, the user, the data-root, its filesystem and mount
   * options and the storage options are in the key already. By default nothing else.
   */
  default java.util.List<String> probeInputs(DriverContext context) {
    return java.util.List.of();
  }

  /** Opens the driver on its home (made by the engine). */
  Driver open(DriverContext context) throws DriverRefusal, IOException;

  /**
   * True when the data-root already holds this driver's state (its home exists and is not empty).
   */
  default boolean hasState(DriverContext context) {
    java.io.File[] files = context.home().toFile().listFiles();
    return files != null && files.length > 0;
  }
}
