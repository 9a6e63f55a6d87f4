/**
 * Not exported: what the unpack module's own packages share beyond its API, public only for them.
 *
 * <ul>
 *   <li>{@link io.layerd.unpack.internal.TarReader}, the tar reader the applier and image reading
 *       use (it reads straight from the apply pipeline's chunks), and {@link
 *       io.layerd.unpack.internal.TarWriter}, which {@link io.layerd.unpack.TreePacker} writes
 *       with;
 *   <li>{@link io.layerd.unpack.internal.LayerStream}, a layer's bytes decompressed and digested on
 *       the caller's thread: {@code io.layerd.unpack.image.ImageReader} lists images' entries with
 *       it (the applier's multi-threaded pipeline is for applying), and {@link
 *       io.layerd.unpack.internal.Decoding} says what both say when a layer does not decompress;
 *   <li>{@link io.layerd.unpack.internal.Staging}, which makes a destination in a sibling staging
 *       directory and renames it into place only when the work succeeded: image unpacking and
 *       {@code layerctl unpack} use it.
 * </ul>
 *
 * <p>The architecture module's {@code ModuleRulesTest} checks that nothing outside unpack uses them
 * but layerctl and the benchmarks.
 */
package io.layerd.unpack.internal;
