package io.layerd.unpack.image;

import io.layerd.unpack.Compression;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.LayerStream;
import io.layerd.unpack.internal.TarReader;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the entries of a layer or of an image without writing anything (what {@code layerctl
 * check-ids} needs). An input is one of:
 *
 * <ul>
 *   <li>a layer: a tar, plain or compressed with gzip, zstd, xz or bzip2 (recognised by magic
 *       bytes, never by name);
 *   <li>an image, as {@link ImageUnpacker} reads it (an OCI image layout or a docker-save archive,
 *       as a tar or a directory): the layers of the manifest it would unpack, chosen by the same
 *       platform and ref, with the same checks of manifests and config; a layer listed twice is
 *       read once.
 * </ul>
 *
 * <p>Entries come from the same tar reader the applier uses, one layer at a time, streamed.
 */
public final class ImageReader implements Closeable {
  /** Visits one entry of a layer. */
  @FunctionalInterface
  public interface EntryVisitor {
    void entry(String layer, TarEntry entry) throws IOException;
  }

  @FunctionalInterface
  private interface Opener {
    InputStream open() throws IOException;
  }

  private record Layer(String name, Opener opener) {}

  private final Path input;
  private final String kind;
  private final List<Layer> layers;
  private final BlobStore store; // null for a single layer

  private ImageReader(Path input, String kind, List<Layer> layers, BlobStore store) {
    this.input = input;
    this.kind = kind;
    this.layers = List.copyOf(layers);
    this.store = store;
  }

  /**
   * Opens a layer or an image; reads the image's indexes, manifests and config (checked against
   * their digests) but no layer yet.
   *
   * @param platform as {@link ImageUnpacker.Builder#platform}
   * @param ref as {@link ImageUnpacker.Builder#ref}
   */
  public static ImageReader open(Path input, Platform platform, String ref) throws IOException {
    boolean directory = Files.isDirectory(input);
    if (!directory) {
      if (!Files.isRegularFile(input)) {
        throw new ImageException(
            input
                + (Files.exists(input, LinkOption.NOFOLLOW_LINKS)
                    ? " is neither a directory nor a regular file"
                    : " does not exist")
                + ": give a layer or an image");
      }
      Compression c;
      try (InputStream in = new BufferedInputStream(Files.newInputStream(input), 16)) {
        c = Compression.detect(in);
      }
      if (c != Compression.NONE) {
        return single(input, c);
      }
    }
    BlobStore store = BlobStore.open(input);
    try {
      boolean oci = store.find("index.json") != null || store.find("oci-layout") != null;
      if (!oci && store.find("manifest.json") == null) {
        if (directory) {
          throw new ImageException(
              input
                  + " is a directory without index.json (OCI layout) or manifest.json (docker"
                  + " save)");
        }
        store.close();
        return single(input, Compression.NONE);
      }
      Plan plan = Plan.read(store, input.toString(), platform, ref);
      List<Layer> layers = new ArrayList<>();
      Set<String> seen = new HashSet<>();
      for (Plan.Layer l : plan.layers()) {
        String name = oci ? l.digest() : l.blob().name();
        if (seen.add(name)) {
          BlobStore.Blob blob = l.blob();
          layers.add(new Layer(name, () -> store.open(blob)));
        }
      }
      String kind =
          oci
              ? (directory ? "OCI image layout" : "OCI image archive")
              : (directory ? "docker-save directory" : "docker-save image");
      return new ImageReader(input, kind, layers, store);
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
  }

  private static ImageReader single(Path input, Compression c) {
    return new ImageReader(
        input,
        "layer (" + c.label() + ")",
        List.of(new Layer(input.getFileName().toString(), () -> Files.newInputStream(input))),
        null);
  }

  /**
   * What the input is: "layer (gzip)", "layer (tar)", "docker-save image", "docker-save directory",
   * "OCI image archive" or "OCI image layout".
   */
  public String kind() {
    return kind;
  }

  /** The layers in apply order: a layer's file name, a docker-save path or an OCI digest. */
  public List<String> layerNames() {
    return layers.stream().map(Layer::name).toList();
  }

  /** Visits every entry of every layer, in order; returns the number of entries. */
  public long forEachEntry(EntryVisitor visitor) throws IOException {
    long n = 0;
    for (Layer l : layers) {
      try (InputStream raw = l.opener().open();
          LayerStream s = LayerStream.open(raw)) {
        TarReader tar = new TarReader(s.tar());
        TarEntry e;
        while ((e = tar.next()) != null) {
          visitor.entry(l.name(), e);
          n++;
        }
      } catch (IOException e) {
        throw new ImageException("layer " + l.name() + " of " + input + ": " + e.getMessage(), e);
      }
    }
    return n;
  }

  @Override
  public void close() throws IOException {
    if (store != null) {
      store.close();
    }
  }
}
