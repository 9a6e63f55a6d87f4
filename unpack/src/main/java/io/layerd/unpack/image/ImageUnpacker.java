package io.layerd.unpack.image;

import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.internal.Staging;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Unpacks a whole image into a directory: its layers, in order, through a {@link LayerApplier}.
 *
 * <p>An image is read from:
 *
 * <ul>
 *   <li>an OCI image layout, as a directory (oci-layout, index.json, blobs/) or as a tar of one;
 *       index.json is followed through nested indexes to one image manifest, chosen by ref name
 *       (the {@code org.opencontainers.image.ref.name} annotation) when the layout holds several
 *       images, and by platform when an index offers several;
 *   <li>a {@code docker save} archive (manifest.json naming a config and layer files, plain or
 *       compressed, by path), as a tar or a directory.
 * </ul>
 *
 * <p>Everything that can be checked before writing is checked first: the manifests and config are
 * read and verified against their digests, the platform and ref chosen, every layer found and its
 * size compared with its descriptor. Then each layer is applied with its expected blob digest and
 * diffID (the config's rootfs.diff_ids): a layer that does not match fails the unpack with a
 * message naming the layer and both digests. When the destination does not exist the image is
 * applied in a staging directory renamed into place only when every layer applied ({@link
 * Staging#into}): a failure leaves no destination behind.
 *
 * <p>A tar image is never extracted and no layer is held in memory: the archive is indexed (headers
 * only) and each layer is streamed from its place in the archive into the applier. Paths inside the
 * image (manifest.json entries, tar members, links between members) are refused when absolute or
 * when they climb out with "..".
 *
 * <p>Instances are immutable and thread-safe; use {@link #builder()}.
 */
public final class ImageUnpacker {
  private final LayerApplier applier;
  private final Platform platform;
  private final String ref;
  private final java.util.function.Consumer<String> notes;

  private ImageUnpacker(Builder b) {
    this.applier = b.applier;
    this.platform = b.platform;
    this.ref = b.ref;
    this.notes = b.notes;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Options of an unpacker. */
  public static final class Builder {
    private LayerApplier applier = LayerApplier.builder().build();
    private Platform platform;
    private String ref;
    private java.util.function.Consumer<String> notes = note -> {};

    private Builder() {}

    /** The applier of every layer (default: {@code LayerApplier.builder().build()}). */
    public Builder applier(LayerApplier applier) {
      this.applier = Objects.requireNonNull(applier);
      return this;
    }

    /**
     * The platform to choose from a multi-platform index; null (the default) means this machine's
     * ({@link Platform#current()}), and an image with a single manifest is then unpacked whatever
     * its platform (with a warning). When set, the manifest must be for this platform.
     */
    public Builder platform(Platform platform) {
      this.platform = platform;
      return this;
    }

    /**
     * The image to choose when the layout holds several: an OCI ref name ({@code
     * org.opencontainers.image.ref.name}, or containerd's {@code io.containerd.image.name}) or a
     * docker-save RepoTag. Null (the default) requires a single image.
     */
    public Builder ref(String ref) {
      this.ref = ref == null || ref.isEmpty() ? null : ref;
      return this;
    }

    /**
     * Where to tell what was cleaned up first (the staging directory an interrupted run left, see
     * {@link Staging#into(Path, Staging.Work, java.util.function.Consumer)}); default: nowhere.
     */
    public Builder notes(java.util.function.Consumer<String> notes) {
      this.notes = Objects.requireNonNull(notes);
      return this;
    }

    public ImageUnpacker build() {
      return new ImageUnpacker(this);
    }
  }

  /**
   * Unpacks {@code image} (an OCI layout directory or tar, or a docker-save tar or directory) into
   * {@code dest}, staged when {@code dest} does not exist.
   *
   * @throws ImageException the image is malformed, not found as asked, or does not verify
   * @throws io.layerd.unpack.LayerApplyException a layer failed to apply or to match its digests
   */
  public ImageResult unpack(Path image, Path dest) throws IOException {
    Objects.requireNonNull(dest, "dest");
    try (BlobStore store = BlobStore.open(image)) {
      Plan plan = Plan.read(store, image.toString(), platform, ref);
      List<ApplyResult> results = Staging.into(dest, root -> apply(store, plan, root), notes);
      return new ImageResult(
          plan.format(),
          plan.refName(),
          plan.platform(),
          plan.manifestDigest(),
          plan.configDigest(),
          results,
          plan.warnings());
    }
  }

  private List<ApplyResult> apply(BlobStore store, Plan plan, int rootFd) throws IOException {
    List<ApplyResult> out = new ArrayList<>();
    List<Plan.Layer> layers = plan.layers();
    for (int i = 0; i < layers.size(); i++) {
      Plan.Layer l = layers.get(i);
      applier.progress().layerStarts(l.name(), i, layers.size(), l.blob().size());
      ApplyResult r;
      try (InputStream in = store.open(l.blob())) {
        r = applier.apply(l.name(), in, rootFd, new LayerApplier.Expect(l.digest(), l.diffId()));
      }
      if (r.digests().compressedSize() != l.blob().size()) {
        throw new ImageException(
            "layer "
                + l.name()
                + ": read "
                + r.digests().compressedSize()
                + " bytes but the blob has "
                + l.blob().size());
      }
      out.add(r);
    }
    return out;
  }
}
