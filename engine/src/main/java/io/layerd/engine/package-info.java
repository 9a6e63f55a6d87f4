/**
 * The engine's API: a layer store on one data-root and one driver, with mounts and their reference
 * counts.
 *
 * <ul>
 *   <li>{@link io.layerd.engine.Engine}, opened with an {@link io.layerd.engine.EngineConfig}: the
 *       layer store's operations (create, createReadWrite, get/put with reference counts, remove,
 *       applyDiff, diff, changes, diffSize, diskUsage), each on a layer id;
 *   <li>{@link io.layerd.engine.LayerStore} and {@link io.layerd.engine.LayerMeta}: what the store
 *       records of each layer, readable without opening a driver;
 *   <li>{@link io.layerd.engine.DriverSelector}: which driver a data-root gets, and why;
 *   <li>{@link io.layerd.engine.DefaultPaths}: where the data-root, the config and the socket are
 *       when not given; {@link io.layerd.engine.DiskUsage}: a layer's blocks and inodes;
 *   <li>{@link io.layerd.engine.DataRootException}: a data-root that cannot be used, named with the
 *       fix.
 * </ul>
 *
 * <p>Layers are applied with the unpack module's {@link io.layerd.unpack.LayerApplier} and answer
 * its {@link io.layerd.unpack.ApplyResult}; mounts and changes are the SPI's {@link
 * io.layerd.engine.spi.Mount} and {@link io.layerd.engine.spi.Change}. Driver authors write against
 * {@code io.layerd.engine.spi}. The data-root checks and the naive tree diff live in {@code
 * io.layerd.engine.internal}, which the module does not export.
 */
package io.layerd.engine;
