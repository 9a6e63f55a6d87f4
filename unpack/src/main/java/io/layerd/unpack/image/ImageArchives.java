package io.layerd.unpack.image;

import io.layerd.unpack.Compression;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Tells an image archive (a docker-save tar, or a tar of an OCI image layout) from a layer, so that
 * a command given one where it expects the other can say so before any work. The first member's
 * name decides whether to look further (a layer hardly begins with {@code blobs/}, {@code
 * manifest.json} or a directory named by 64 hex digits); only then are the headers indexed (never
 * the data read) to find the image's {@code index.json}, {@code oci-layout} or {@code
 * manifest.json}, wherever they stand in the archive.
 */
public final class ImageArchives {
  private ImageArchives() {}

  private static final Pattern OPENER =
      Pattern.compile(
          "(\\./)?(blobs(/.*)?|oci-layout|[^/]+\\.json|repositories"
              + "|[0-9a-f]{64}(/.*|\\.json)?)");

  /**
   * What kind of image archive {@code file} is ("a docker-save archive", "an OCI image layout
   * archive"), or null when it is not one (a layer, a compressed file, anything unreadable).
   */
  public static String kind(Path file) {
    if (!Files.isRegularFile(file)) {
      return null;
    }
    try {
      byte[] head = new byte[512];
      try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 16)) {
        if (Compression.detect(in) != Compression.NONE || in.readNBytes(head, 0, 512) < 512) {
          return null; // image archives are plain tars (BlobStore refuses compressed ones)
        }
      }
      if (!new String(head, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar")
          || !OPENER.matcher(firstName(head)).matches()) {
        return null;
      }
      try (BlobStore store = TarBlobs.open(file)) {
        if (store.find("index.json") != null || store.find("oci-layout") != null) {
          return store.find("manifest.json") != null
              ? "a docker-save archive"
              : "an OCI image layout archive";
        }
        return store.find("manifest.json") != null ? "a docker-save archive" : null;
      }
    } catch (IOException | RuntimeException e) {
      return null; // not readable as an image: the layer's own reading says what is wrong
    }
  }

  /** The first member's name: the ustar prefix and name fields. */
  private static String firstName(byte[] h) {
    String name = field(h, 0, 100);
    String prefix = field(h, 345, 155);
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  private static String field(byte[] h, int off, int len) {
    int end = off;
    while (end < off + len && h[end] != 0) {
      end++;
    }
    return new String(h, off, end - off, StandardCharsets.ISO_8859_1);
  }
}
