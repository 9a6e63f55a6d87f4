/**
 * The storage engine: the layer store, mounting with reference counts, driver selection. Its API is
 * {@code io.layerd.engine} (see its package-info); {@code io.layerd.engine.spi} is the API for
 * driver authors, found through {@link java.util.ServiceLoader}. {@code io.layerd.engine.internal}
 * (the data-root checks, the naive tree diff) is not exported.
 */
module io.layerd.engine {
  requires transitive io.layerd.unpack;
  requires io.layerd.sys;
  requires com.fasterxml.jackson.databind;

  exports io.layerd.engine;
  exports io.layerd.engine.spi;

  // The layer store's metadata and the driver-selection cache are JSON through data binding.
  opens io.layerd.engine to
      com.fasterxml.jackson.databind;

  uses io.layerd.engine.spi.DriverProvider;
}
