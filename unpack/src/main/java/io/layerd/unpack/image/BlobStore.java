package io.layerd.unpack.image;

import io.layerd.unpack.Compression;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The files of an image, by their clean relative names (see {@link ImagePaths}): a directory or the
 * members of an uncompressed tar. Nothing is ever extracted; each blob is streamed from where it
 * lies.
 */
interface BlobStore extends Closeable {
  /** A file of the image: its clean name and size. */
  record Blob(String name, long size) {}

  /** The file with this clean name, or null when the image has none. */
  Blob find(String name) throws IOException;

  /** The bytes of a blob found by {@link #find}; the caller closes the stream. */
  InputStream open(Blob blob) throws IOException;

  /** Opens a directory, or an uncompressed tar (indexed, never extracted). */
  static BlobStore open(Path image) throws IOException {
    if (Files.isDirectory(image)) {
      return DirectoryBlobs.open(image);
    }
    if (!Files.exists(image, LinkOption.NOFOLLOW_LINKS) && !Files.exists(image)) {
      throw new ImageException(image + " does not exist");
    }
    if (!Files.isRegularFile(image)) {
      throw new ImageException(
          image + " is neither a directory nor a regular file: give an image tar or layout");
    }
    Compression c;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(image), 16)) {
      c = Compression.detect(in);
    }
    if (c != Compression.NONE) {
      throw new ImageException(
          image
              + " is "
              + c.label()
              + "-compressed: an image archive is read as a plain tar (its layers may be"
              + " compressed, the archive itself not); decompress it first");
    }
    return TarBlobs.open(image);
  }
}
