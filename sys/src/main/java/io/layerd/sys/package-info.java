/**
 * The native boundary that layerd's modules share; it is their API, not one for library users (who
 * need none of it to apply a layer or unpack an image).
 *
 * <p>{@link io.layerd.sys.Sys} holds every system call, with paths as bytes relative to a directory
 * descriptor ({@link io.layerd.sys.Fd}); failures leave it once as the closest {@code
 * java.nio.file} exception ({@link io.layerd.sys.NativeFailure}, {@link io.layerd.sys.Errno}).
 * Besides the calls it holds what every module above shares about names and trees: {@link
 * io.layerd.sys.Names}, {@link io.layerd.sys.Trees}, {@link io.layerd.sys.DirWalk}, {@link
 * io.layerd.sys.Executables}, the tar header's layout ({@link io.layerd.sys.TarHeader}), and the
 * optional native speed-ups that test themselves before use ({@link io.layerd.sys.IsalInflater},
 * {@link io.layerd.sys.NativeSha256}). The JNA bindings are package-private.
 */
package io.layerd.sys;
