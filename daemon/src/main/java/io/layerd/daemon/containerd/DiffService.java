package io.layerd.daemon.containerd;

import com.github.luben.zstd.ZstdOutputStream;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.layerd.daemon.containerd.proto.DescriptorProto.Descriptor;
import io.layerd.daemon.containerd.proto.DiffGrpc;
import io.layerd.daemon.containerd.proto.DiffProto;
import io.layerd.daemon.containerd.proto.MountProto;
import io.layerd.engine.Engine;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Mount;
import io.layerd.idmap.UnmappedIdException;
import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.InvalidArchiveException;
import io.layerd.unpack.LayerApplier;
import java.io.FileInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * containerd.services.diff.v1.Diff over the engine: layerd as containerd's differ (a proxy plugin
 * of type {@code diff}, first in the diff service's list, the walking differ after it).
 *
 * <p>Declining is part of the contract: containerd asks the next differ when one answers
 * Unimplemented. layerd declines whatever it cannot do as well as the walking differ (mounts that
 * are not exactly those of its own snapshots, media types and options it does not handle, a blob
 * that is not in containerd's blob directory), so that no request the walking differ would serve
 * fails. A request it takes fails with its own message (an owner outside the id mapping names the
 * file, the id, the range and the remedy), which containerd passes on to its caller.
 *
 * <h2>Apply</h2>
 *
 * The layer is read from containerd's blob directory, {@code ROOT/io.containerd.content.v1.content
 * /blobs/sha256/HEX}, not through the content service: containerd 2.1 passes no namespace to a
 * proxy differ (containerd#12328), the directory is the same for every namespace, and a file is
 * read at disk speed where the content service would copy each byte through gRPC. The digest is
 * checked against the descriptor as the layer streams, so a file changed under the directory fails
 * the apply. The pipeline applies it straight into the active snapshot's own directory (its overlay
 * upper directory, or the vfs/btrfs layer), in the driver's whiteout form, with no mount.
 *
 * <h2>Diff</h2>
 *
 * For overlay2 and fuse-overlayfs, the changes are read from the active snapshot's upper directory
 * (the engine's Diff, as for dockerd's graph-driver Diff) and written as tar (gzip or zstd as
 * asked) to containerd's content service on containerd's own socket, labelled {@code
 * containerd.io/uncompressed} with the diffID. Without the caller's namespace and lease
 * (containerd#12328), what layerd writes is safe this way:
 *
 * <ul>
 *   <li>The namespace is the snapshot's: containerd names its snapshot keys "NAMESPACE/N/NAME", and
 *       the key of the snapshot whose mounts are diffed is layerd's.
 *   <li>The content is written under a lease of layerd's own in that namespace, which expires after
 *       {@link #LEASE_TTL}. containerd's garbage collector keeps content a lease holds, also
 *       content that existed already (a commit adds it to the writer's lease). The caller makes the
 *       image (its config and manifest refer to the layer) within that time; after it, the image
 *       holds the layer. A layer whose image was never made stays until the lease expires.
 * </ul>
 *
 * Where this cannot hold (no containerd socket configured, a key without a namespace), and for what
 * the walking differ would do differently (a source date epoch, other media types, vfs and btrfs
 * snapshots, which have no upper directory), the answer is Unimplemented: the walking differ runs.
 */
final class DiffService extends DiffGrpc.DiffImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(DiffService.class);

  /** How long layerd's lease keeps a layer it wrote for a caller that has not made its image. */
  static final Duration LEASE_TTL = Duration.ofHours(24);

  static final String LABEL_UNCOMPRESSED = "containerd.io/uncompressed";

  static final String OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
  static final String OCI_LAYER_GZIP = OCI_LAYER + "+gzip";
  static final String OCI_LAYER_ZSTD = OCI_LAYER + "+zstd";

  /** The layer media types the applier reads (it detects the compression by magic bytes). */
  static final Set<String> APPLY_TYPES =
      Set.of(
          OCI_LAYER,
          OCI_LAYER_GZIP,
          OCI_LAYER_ZSTD,
          "application/vnd.oci.image.layer.nondistributable.v1.tar",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
          "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
          "application/vnd.docker.image.rootfs.diff.tar",
          "application/vnd.docker.image.rootfs.diff.tar.gzip",
          "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");

  private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");

  private final Engine engine;
  private final Snapshotter snapshotter;
  private final Path blobs; // or null: Apply declines
  private final ContainerdClient containerd; // or null: Diff declines

  /**
   * @param contentRoot containerd's root directory (its blobs are under {@code
   *     io.containerd.content.v1.content/blobs}), or null
   * @param containerd a client of containerd's socket, or null
   */
  DiffService(
      Engine engine, Snapshotter snapshotter, Path contentRoot, ContainerdClient containerd) {
    this.engine = engine;
    this.snapshotter = snapshotter;
    this.blobs =
        contentRoot == null ? null : contentRoot.resolve("io.containerd.content.v1.content/blobs");
    this.containerd = containerd;
  }

  /** Why layerd leaves a request to the next differ. */
  private static final class Decline extends Exception {
    private static final long serialVersionUID = 1L;

    Decline(String why) {
      super(why, null, false, false);
    }
  }

  // ------------------------------------------------------------------ Apply

  @Override
  public void apply(DiffProto.ApplyRequest req, StreamObserver<DiffProto.ApplyResponse> out) {
    long start = System.nanoTime();
    Descriptor d = req.getDiff();
    String digest = d.getDigest();
    ApplyResult r;
    String layer = null;
    try {
      Path blob = applyBlob(req);
      layer = applyTarget(req.getMountsList());
      // A FileInputStream: the pipeline reads its channel straight into its chunks.
      try (InputStream in = new FileInputStream(blob.toFile())) {
        r = engine.applyDiff(layer, in, new LayerApplier.Expect(digest, null), req.getSyncFs());
      }
    } catch (Decline why) {
      declined("apply", digest, start, why, out);
      return;
    } catch (IOException | RuntimeException e) {
      failed("apply", digest, layer, start, e, out);
      return;
    }
    LOG.info(
        "apply {}: {} bytes ({} uncompressed), {} entries, {} ms, pipeline into {} ({}), diffID {}",
        digest,
        r.digests().compressedSize(),
        r.digests().uncompressedSize(),
        r.counts().entries(),
        millis(start),
        layer,
        engine.driver().name(),
        r.digests().diffId());
    out.onNext(
        DiffProto.ApplyResponse.newBuilder()
            .setApplied(
                Descriptor.newBuilder()
                    .setMediaType(OCI_LAYER)
                    .setDigest(r.digests().diffId())
                    .setSize(r.digests().uncompressedSize()))
            .build());
    out.onCompleted();
  }

  /** The blob to apply, or a decline when layerd cannot read it as the walking differ would. */
  private Path applyBlob(DiffProto.ApplyRequest req) throws Decline {
    Descriptor d = req.getDiff();
    if (!APPLY_TYPES.contains(d.getMediaType())) {
      throw new Decline("media type " + d.getMediaType() + " is not one layerd applies");
    }
    if (req.getPayloadsCount() > 0) {
      throw new Decline("stream processor payloads " + req.getPayloadsMap().keySet());
    }
    if (!SHA256.matcher(d.getDigest()).matches()) {
      throw new Decline("digest " + d.getDigest() + " is not a sha256 digest");
    }
    if (blobs == null) {
      throw new Decline("containerd's root is not configured");
    }
    Path blob = blobs.resolve("sha256").resolve(d.getDigest().substring("sha256:".length()));
    if (!Files.isRegularFile(blob)) {
      throw new Decline(blob + " does not exist");
    }
    return blob;
  }

  /** The layer of the active snapshot the mounts are, empty of changes: Apply's target. */
  private String applyTarget(List<MountProto.Mount> mounts) throws Decline, IOException {
    List<Snapshotter.Match> m = snapshotter.match(engineMounts(mounts));
    if (m.size() != 1 || m.get(0).readOnly()) {
      throw new Decline("the mounts are not those of one of layerd's active snapshots");
    }
    String layer = m.get(0).rec().layer();
    if (engine.driver().deletionForm() != DeletionForm.ABSENT) {
      // An upper directory holding changes already (a second layer applied into one snapshot):
      // the walking differ applies on the merged tree, which layerd's overlay form would not.
      try (var entries = Files.list(engine.driver().diffDirectory(layer))) {
        if (entries.findAny().isPresent()) {
          throw new Decline("the active snapshot's upper directory is not empty");
        }
      }
    }
    return layer;
  }

  // ------------------------------------------------------------------ Diff

  @Override
  public void diff(DiffProto.DiffRequest req, StreamObserver<DiffProto.DiffResponse> out) {
    long start = System.nanoTime();
    String what = "diff " + (req.getRef().isEmpty() ? "(no ref)" : req.getRef());
    Target t;
    try {
      t = diffTarget(req);
    } catch (Decline why) {
      declined("diff", what, start, why, out);
      return;
    } catch (IOException | RuntimeException e) {
      failed("diff", what, null, start, e, out);
      return;
    }
    try {
      Descriptor result = write(t, req, start);
      out.onNext(DiffProto.DiffResponse.newBuilder().setDiff(result).build());
      out.onCompleted();
    } catch (IOException | RuntimeException e) {
      failed("diff", what, t.layer, start, e, out);
    }
  }

  /** What a Diff request diffs: the upper snapshot's layer, its parent, namespace, media type. */
  private record Target(String layer, String parent, String namespace, String mediaType) {}

  private Target diffTarget(DiffProto.DiffRequest req) throws Decline, IOException {
    String mediaType = req.getMediaType().isEmpty() ? OCI_LAYER_GZIP : req.getMediaType();
    if (!mediaType.equals(OCI_LAYER)
        && !mediaType.equals(OCI_LAYER_GZIP)
        && !mediaType.equals(OCI_LAYER_ZSTD)) {
      throw new Decline("media type " + mediaType + " is not one layerd writes");
    }
    if (req.hasSourceDateEpoch()) {
      throw new Decline("a source date epoch is asked (layerd keeps the files' times)");
    }
    if (engine.driver().deletionForm() == DeletionForm.ABSENT) {
      throw new Decline(engine.driver().name() + " snapshots have no upper directory to read");
    }
    if (containerd == null) {
      throw new Decline("containerd's socket is not configured, so layerd cannot store a layer");
    }
    List<Snapshotter.Match> upper = snapshotter.match(engineMounts(req.getRightList()));
    if (upper.isEmpty()) {
      throw new Decline("the right mounts are not those of one of layerd's snapshots");
    }
    String layer = upper.get(0).rec().layer();
    String parent = snapshotter.parentLayer(layer);
    Set<String> namespaces = new HashSet<>();
    for (Snapshotter.Match m : upper) {
      namespaces.add(m.namespace());
    }
    if (namespaces.size() != 1 || namespaces.contains(null)) {
      throw new Decline("the snapshot's containerd namespace is not known");
    }
    List<Snapshotter.Match> lower = snapshotter.match(engineMounts(req.getLeftList()));
    boolean lowerIsParent =
        parent == null
            ? req.getLeftCount() == 0
                || lower.stream().anyMatch(m -> m.rec().parent() == null && isEmptyView(m))
            : lower.stream().anyMatch(m -> m.rec().layer().equals(parent));
    if (!lowerIsParent) {
      throw new Decline("the left mounts are not the right snapshot's parent");
    }
    return new Target(layer, parent, namespaces.iterator().next(), mediaType);
  }

  private static boolean isEmptyView(Snapshotter.Match m) {
    return m.rec().kind() == SnapshotRecords.Kind.VIEW && m.rec().ownsLayer();
  }

  private Descriptor write(Target t, DiffProto.DiffRequest req, long start) throws IOException {
    String ref = req.getRef().isEmpty() ? uniqueRef() : req.getRef();
    String lease = containerd.createLease(t.namespace, LEASE_TTL);
    MessageDigest compressed = sha256();
    MessageDigest uncompressed = sha256();
    Engine.DiffResult dr;
    boolean stored;
    long size;
    boolean done = false;
    try (ContainerdClient.Upload up = containerd.upload(t.namespace, lease, ref)) {
      OutputStream digested = new DigestOutputStream(up, compressed);
      OutputStream packed = compressor(t.mediaType, new Unclosed(digested));
      try (OutputStream tar = new DigestOutputStream(packed, uncompressed)) {
        dr = engine.diffWithCount(t.layer, t.parent, tar);
      }
      size = up.size();
      Map<String, String> labels = new LinkedHashMap<>(req.getLabelsMap());
      labels.put(LABEL_UNCOMPRESSED, hex(uncompressed));
      stored = up.commit(hex(compressed), labels);
      done = true;
    } finally {
      if (!done) {
        containerd.deleteLease(t.namespace, lease); // it holds nothing worth keeping
      }
    }
    String digest = hex(compressed);
    String diffId = hex(uncompressed);
    if (!stored) {
      Map<String, String> labels = containerd.labels(t.namespace, digest);
      if (labels != null && !labels.containsKey(LABEL_UNCOMPRESSED)) {
        containerd.setLabel(t.namespace, digest, LABEL_UNCOMPRESSED, diffId);
      }
    }
    LOG.info(
        "diff {}: {} bytes ({} uncompressed), {} entries, {} ms, {} of {} ({}) in namespace {}"
            + " under lease {}{}, diffID {}",
        digest,
        size,
        dr.bytes(),
        dr.changes(),
        millis(start),
        dr.nativeChanges() ? "native diff" : "tree comparison",
        t.layer,
        engine.driver().name(),
        t.namespace,
        lease,
        stored ? "" : " (the content existed)",
        diffId);
    return Descriptor.newBuilder()
        .setMediaType(t.mediaType)
        .setDigest(digest)
        .setSize(size)
        .build();
  }

  /**
   * The deflate level of the gzip layers Diff writes: the level whose layers are no larger than
   * those of containerd's walking differ (Go's {@code gzip.NewWriter}, its level 6) for less CPU.
   * On the Debian reference tar (239 MB): Go's level 6 gives 84.37 MB for 5.2 s of CPU;
   * java.util.zip's level 6 82.98 MB for 5.9 s, level 5 83.67 MB for 4.0 s, level 4 85.27 MB (1.1%
   * over Go's) for 3.0 s.
   */
  static final int GZIP_LEVEL = 5;

  private static OutputStream compressor(String mediaType, OutputStream out) throws IOException {
    switch (mediaType) {
      case OCI_LAYER_GZIP:
        // On every core: a large layer's commit is bound by deflate.
        return new ParallelGzipOutputStream(
            out, GZIP_LEVEL, Runtime.getRuntime().availableProcessors());
      case OCI_LAYER_ZSTD:
        return new ZstdOutputStream(out, 3);
      default:
        return out;
    }
  }

  /** Passes close() on as a flush: the compressor's close must not end the upload. */
  private static final class Unclosed extends FilterOutputStream {
    Unclosed(OutputStream out) {
      super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      flush();
    }
  }

  // ------------------------------------------------------------------ shared

  private static List<Mount> engineMounts(List<MountProto.Mount> mounts) {
    return mounts.stream()
        .map(m -> new Mount(m.getType(), m.getSource(), m.getOptionsList()))
        .toList();
  }

  private static <T> void declined(
      String op, String what, long start, Decline why, StreamObserver<T> out) {
    LOG.info(
        "{} {}: 0 bytes, 0 entries, {} ms, NotImplemented fallback ({})",
        op,
        what,
        millis(start),
        why.getMessage());
    out.onError(
        Status.UNIMPLEMENTED
            .withDescription(
                "layerd leaves this " + op + " to the next differ: " + why.getMessage())
            .asRuntimeException());
  }

  /**
   * A failure of a request layerd took. Its message goes to containerd's caller as it is (the
   * docker CLI prints it): an owner outside the id mapping, an archive that is not valid or whose
   * digest differs are the caller's to fix (FailedPrecondition, InvalidArgument); anything else is
   * Internal.
   */
  private static <T> void failed(
      String op, String what, String layer, long start, Exception e, StreamObserver<T> out) {
    Status.Code code =
        e instanceof UnmappedIdException
            ? Status.Code.FAILED_PRECONDITION
            : e instanceof InvalidArchiveException || e instanceof NoSuchFileException
                ? Status.Code.INVALID_ARGUMENT
                : Status.Code.INTERNAL;
    LOG.warn(
        "{} {}: failed after {} ms{}: {}",
        op,
        what,
        millis(start),
        layer == null ? "" : " (layer " + layer + ")",
        e.getMessage());
    String message = e.getMessage() == null ? e.toString() : e.getMessage();
    out.onError(Status.fromCode(code).withDescription(message).withCause(e).asRuntimeException());
  }

  private static long millis(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(MessageDigest d) {
    // a clone: the digest is read more than once
    try {
      return "sha256:" + HexFormat.of().formatHex(((MessageDigest) d.clone()).digest());
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String uniqueRef() {
    return "layerd-diff-"
        + System.nanoTime()
        + "-"
        + Integer.toHexString(ThreadLocalRandom.current().nextInt() & 0xffffff);
  }
}
