/**
 * Applying one layer (a tar stream, compressed or not) into a directory: the API of the unpack
 * module for a single layer; {@code io.layerd.unpack.image} is the API for whole images.
 *
 * <h2>The API</h2>
 *
 * <ul>
 *   <li>{@link io.layerd.unpack.LayerApplier}, configured once with its {@code Builder} and then
 *       applied to any number of layers ({@link io.layerd.unpack.LayerApplier.Expect} names the
 *       digests the layer must have), answering an {@link io.layerd.unpack.ApplyResult};
 *   <li>what the builder takes: {@link io.layerd.unpack.WhiteoutMode}, {@link
 *       io.layerd.unpack.OverlayXattrs}, {@link io.layerd.unpack.ApplyProgress}, and the owners to
 *       give files, an {@link io.layerd.unpack.OwnerMapper} ({@link io.layerd.unpack.IdOwners} maps
 *       them through idmap's {@link io.layerd.idmap.IdRemapper});
 *   <li>what an owner mapper and a result speak of: {@link io.layerd.unpack.TarEntry} (one entry as
 *       the archive states it, names as bytes) and {@link io.layerd.unpack.Compression};
 *   <li>the failures: {@link io.layerd.unpack.LayerApplyException} (naming the layer, the entry and
 *       its offset), {@link io.layerd.unpack.InvalidArchiveException} and {@link
 *       io.layerd.unpack.DigestMismatchException}; an owner the id mapping cannot represent fails
 *       with idmap's {@link io.layerd.idmap.UnmappedIdException}.
 * </ul>
 *
 * <h2>Public here, but not the API</h2>
 *
 * <p>The applier's pipeline, its directory-descriptor tree, its writers and copy-up are
 * package-private; staged publication ({@code Staging}) is in {@code io.layerd.unpack.internal},
 * which the module does not export. A few types here are public only because another package of
 * this module or another layerd module needs them, and are not for library users: {@code TarReader}
 * and {@code LayerStream} (read by {@code io.layerd.unpack.image}), {@code TreePacker} and {@code
 * TarWriter} (the engine's diff). The architecture module's {@code ModuleRulesTest} checks that no
 * other module uses them beyond those named there. They are to move to the internal package once
 * the applier's entry handling is split into small classes (TarReader reads straight from the
 * pipeline's chunks, and TreePacker cleans names with the applier's own rule).
 */
package io.layerd.unpack;
