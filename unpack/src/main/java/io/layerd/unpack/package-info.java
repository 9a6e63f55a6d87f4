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
 *   <li>the reverse, for a layer store's diff: {@link io.layerd.unpack.TreePacker} writes chosen
 *       paths of a directory tree (and whiteouts for deleted ones) as a layer tar;
 *   <li>the failures: {@link io.layerd.unpack.LayerApplyException} (naming the layer, the entry and
 *       its offset), {@link io.layerd.unpack.InvalidArchiveException} and {@link
 *       io.layerd.unpack.DigestMismatchException}; an owner the id mapping cannot represent fails
 *       with idmap's {@link io.layerd.idmap.UnmappedIdException}.
 * </ul>
 *
 * <h2>Not the API</h2>
 *
 * <p>Every other type here (the applier's pipeline, its directory-descriptor tree, its entry
 * handling, its writers and copy-up) is package-private. What the module's own packages share
 * beyond the API is in {@code io.layerd.unpack.internal}, which the module does not export: the tar
 * reader and writer, the single-threaded {@code LayerStream} that {@code io.layerd.unpack.image}
 * reads images' layers with, and staged publication ({@code Staging}).
 */
package io.layerd.unpack;
