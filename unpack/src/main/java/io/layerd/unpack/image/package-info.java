/**
 * Unpacking whole images (OCI image layouts and docker-save archives) into a directory with the
 * layer applier, and reading their entries without writing anything. The public surface is {@link
 * io.layerd.unpack.image.ImageUnpacker}, {@link io.layerd.unpack.image.ImageReader}, {@link
 * io.layerd.unpack.image.ImageResult}, {@link io.layerd.unpack.image.Platform} and {@link
 * io.layerd.unpack.image.ImageException}; reading the image's files and JSON is package-private.
 */
package io.layerd.unpack.image;
