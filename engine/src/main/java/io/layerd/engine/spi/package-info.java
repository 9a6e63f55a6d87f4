/**
 * The API for driver authors, exported by the engine module without restriction: a driver is a
 * {@link io.layerd.engine.spi.DriverProvider} found through {@link java.util.ServiceLoader}, which
 * opens a {@link io.layerd.engine.spi.Driver} for a data-root given a {@link
 * io.layerd.engine.spi.DriverContext}. A driver returns mounts as data ({@link
 * io.layerd.engine.spi.Mount}), refuses with a typed {@link io.layerd.engine.spi.DriverRefusal},
 * declares its {@link io.layerd.engine.spi.Capability}s and {@link
 * io.layerd.engine.spi.DeletionForm}, and decides on the host's facts ({@link
 * io.layerd.engine.spi.Host}, {@link io.layerd.engine.spi.KernelVersion}, {@link
 * io.layerd.engine.spi.FsInfo}, {@link io.layerd.engine.spi.FilesystemProbe}, {@link
 * io.layerd.engine.spi.Probe}). {@link io.layerd.engine.spi.StagedDirectories}, {@link
 * io.layerd.engine.spi.LayerIds} and {@link io.layerd.engine.spi.Mounter} are what the
 * directory-based drivers share. The package depends on nothing of the engine's implementation.
 */
package io.layerd.engine.spi;
