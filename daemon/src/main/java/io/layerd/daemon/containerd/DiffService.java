package io.layerd.daemon.containerd;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
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
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * containerd.services.diff.v1.Diff over the engine: layerd as containerd's differ (a proxy plugin
 * of type {@code diff}, first in the diff service's list, the walking differ after it).
 *
 * <p>containerd's diff service asks the next differ when one answers Unimplemented; its transfer
 * service (behind {@code ctr images import}) asks one differ per unpack entry and has no chain. So
 * Apply fails nothing the walking differ would serve: what the pipeline cannot apply as the walking
 * differ would (media types containerd leaves to its stream processors, payloads for them, mounts
 * that are not exactly one of layerd's active snapshots, a snapshot holding changes already) is
 * handed to containerd's diff service in the caller's namespace, whose chain asks layerd again
 * (layerd declines its own hand-over) and then the walking differ. Only without containerd's socket
 * or a namespace does layerd decline. A request it takes fails with its own message (an owner
 * outside the id mapping names the file, the id, the range and the remedy), which containerd passes
 * on to its caller.
 *
 * <h2>Apply</h2>
 *
 * The layer is read from containerd's blob directory, {@code ROOT/io.containerd.content.v1.content
 * /blobs/sha256/HEX}: the directory is the same for every namespace, and a file is read at disk
 * speed where the content service would copy each byte through gRPC. A blob that is not there is
 * read through the content service in the caller's namespace ({@link #CALLER_NAMESPACE}, else the
 * snapshot key's). The digest is checked against the descriptor as the layer streams, so a file
 * changed under the directory fails the apply. The pipeline applies it straight into the active
 * snapshot's own directory (its overlay upper directory, or the vfs/btrfs layer), in the driver's
 * whiteout form, with no mount.
 *
 * <h2>Diff</h2>
 *
 * For overlay2 and fuse-overlayfs, the changes are read from the active snapshot's upper directory
 * (the engine's Diff, as for dockerd's graph-driver Diff) and written as tar (gzip or zstd as
 * asked; the codec as {@link DiffCompression} says) to containerd's content service on containerd's
 * own socket, labelled {@code containerd.io/uncompressed} with the diffID.
 *
 * <p>What containerd passes layerd with Diff, measured with containerd 2.1.9, Docker 28.5.2 (its
 * BuildKit) and ctr 2.1.9, rootful (each call's headers are logged at DEBUG): {@code docker commit}
 * (dockerd, then containerd's diff service) and {@code ctr snapshots diff} arrive with {@code
 * containerd-namespace} (moby; ctr's namespace) and no {@code containerd-lease}; so do BuildKit's
 * Diff calls where it makes any (on fuse-overlayfs; on overlay2 it computes each step's layer from
 * the upper directories itself and never calls Diff). Beyond gRPC's own headers ({@code
 * content-type}, {@code user-agent: grpc-go/1.81.1}, {@code grpc-accept-encoding}) nothing else
 * arrives. containerd's gRPC server puts a request's namespace into the context of the calls it
 * makes for it, but the caller's lease stays in the request's incoming metadata, which the proxy
 * differ's client does not forward (containerd#12328, open). So what layerd writes is kept safe
 * this way:
 *
 * <ul>
 *   <li>The namespace is the caller's ({@link #CALLER_NAMESPACE}), as the walking differ's; without
 *       the header, the snapshot's: containerd names its snapshot keys "NAMESPACE/N/NAME", and the
 *       key of the snapshot whose mounts are diffed is layerd's.
 *   <li>The content is written under a lease of layerd's own in that namespace, which expires after
 *       {@link #LEASE_TTL}. containerd's garbage collector keeps content a lease holds, also
 *       content that existed already (a commit adds it to the writer's lease). The caller makes the
 *       image (its config and manifest refer to the layer) within that time; after it, the image
 *       holds the layer. A layer whose image was never made stays until the lease expires.
 *   <li>A containerd that passes the caller's lease ({@code containerd-lease}, with {@code
 *       containerd-namespace}: {@link #CALLER_LEASE}) gets the layer written under it, as the
 *       walking differ writes it, and layerd makes no lease: the caller's lease then decides, as
 *       without layerd.
 * </ul>
 *
 * Where this cannot hold (no containerd socket configured, no namespace sent nor in the key), and
 * for what the walking differ would do differently (a source date epoch, other media types, vfs and
 * btrfs snapshots, which have no upper directory), the answer is Unimplemented: the walking differ
 * runs.
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
          "application/vnd.docker.image.rootfs.diff.tar.zstd",
          "application/vnd.docker.image.rootfs.foreign.diff.tar",
          "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");

  private static final Pattern SHA256 = Pattern.compile("sha256:[0-9a-f]{64}");

  private final Engine engine;
  private final Snapshotter snapshotter;
  private final Path blobs; // or null: Apply declines
  private final ContainerdClient containerd; // or null: Diff declines
  private final DiffCompression compression;

  /**
   * @param contentRoot containerd's root directory (its blobs are under {@code
   *     io.containerd.content.v1.content/blobs}), or null
   * @param containerd a client of containerd's socket, or null
   * @param compression how Diff compresses the layers it writes
   */
  DiffService(
      Engine engine,
      Snapshotter snapshotter,
      Path contentRoot,
      ContainerdClient containerd,
      DiffCompression compression) {
    this.engine = engine;
    this.snapshotter = snapshotter;
    this.blobs =
        contentRoot == null ? null : contentRoot.resolve("io.containerd.content.v1.content/blobs");
    this.containerd = containerd;
    this.compression = compression;
  }

  /** Why layerd leaves a request to the next differ. */
  private static final class Decline extends Exception {
    private static final long serialVersionUID = 1L;

    Decline(String why) {
      super(why, null, false, false);
    }
  }

  // ------------------------------------------------------------------ Apply

  /**
   * The caller's containerd namespace: containerd 2.1 sends it on Apply and on Diff in the {@code
   * containerd-namespace} header (its gRPC server copies a request's namespace onto the calls it
   * makes, the transfer service's and the diff service's alike), or null.
   */
  static final Context.Key<String> CALLER_NAMESPACE = Context.key("containerd-namespace");

  private static final Metadata.Key<String> NAMESPACE_HEADER =
      Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * The caller's containerd lease, in the {@code containerd-lease} header: containerd 2.1.9 sends
   * none to a proxy differ (containerd#12328); a containerd that does gets Diff's layer written
   * under it, as the walking differ's, and no lease of layerd's. Null when not sent.
   */
  static final Context.Key<String> CALLER_LEASE = Context.key("containerd-lease");

  private static final Metadata.Key<String> LEASE_HEADER =
      Metadata.Key.of("containerd-lease", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * This service with {@link #CALLER_NAMESPACE} and {@link #CALLER_LEASE} set from each call's
   * headers. At DEBUG, each call's headers are logged as they arrive ({@code --log-level debug}):
   * what a containerd sends its proxy differ (whether a later containerd passes {@code
   * containerd-lease}, containerd#12328).
   */
  ServerServiceDefinition withCallerNamespace() {
    return ServerInterceptors.intercept(
        this,
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            if (LOG.isDebugEnabled()) {
              LOG.debug(
                  "{} from containerd, headers {}",
                  call.getMethodDescriptor().getFullMethodName(),
                  headers);
            }
            String ns = headers.get(NAMESPACE_HEADER);
            String lease = headers.get(LEASE_HEADER);
            Context c = Context.current();
            if (ns != null && !ns.isEmpty()) {
              c = c.withValue(CALLER_NAMESPACE, ns);
            }
            if (lease != null && !lease.isEmpty()) {
              c = c.withValue(CALLER_LEASE, lease);
            }
            return c == Context.current()
                ? next.startCall(call, headers)
                : Contexts.interceptCall(c, call, headers, next);
          }
        });
  }

  /**
   * The Apply requests layerd is handing to containerd's diff service right now: that service asks
   * its differs in order, layerd's first, and layerd then leaves each of these to the next one.
   */
  private final Set<String> handedOver = ConcurrentHashMap.newKeySet();

  @Override
  public void apply(DiffProto.ApplyRequest req, StreamObserver<DiffProto.ApplyResponse> out) {
    long start = System.nanoTime();
    String digest = req.getDiff().getDigest();
    String key = digest + " " + req.getMountsList();
    if (handedOver.contains(key)) {
      declined(
          "apply",
          digest,
          start,
          new Decline("layerd handed this apply to containerd's diff service itself"),
          out);
      return;
    }
    String layer = null;
    String namespace = CALLER_NAMESPACE.get();
    String refusal;
    try {
      Snapshotter.Match target = applyTarget(req.getMountsList());
      if (namespace == null && target != null) {
        namespace = target.namespace();
      }
      refusal = pipelineRefusal(req, target);
      if (refusal == null) {
        layer = target.rec().layer();
        Path blob = blobs == null ? null : blobs.resolve("sha256").resolve(digest.substring(7));
        if (blob != null && Files.isRegularFile(blob)) {
          // A FileInputStream: the pipeline reads its channel straight into its chunks.
          try (InputStream in = new FileInputStream(blob.toFile())) {
            applied(req, layer, in, "the blob directory", start, out);
          }
          return;
        }
        if (containerd != null && namespace != null) {
          try (InputStream in = containerd.read(namespace, digest)) {
            applied(req, layer, in, "containerd's content service", start, out);
          }
          return;
        }
        refusal =
            (blobs == null ? "containerd's root is not configured" : blob + " does not exist")
                + (containerd == null
                    ? " and containerd's socket is not configured"
                    : " and the caller's namespace is not known");
      }
    } catch (IOException | RuntimeException e) {
      failed("apply", digest, layer, start, e, out);
      return;
    }
    handOver(req, key, namespace, refusal, start, out);
  }

  /** Applies {@code in} into {@code layer} with the pipeline, and answers. */
  private void applied(
      DiffProto.ApplyRequest req,
      String layer,
      InputStream in,
      String source,
      long start,
      StreamObserver<DiffProto.ApplyResponse> out)
      throws IOException {
    String digest = req.getDiff().getDigest();
    ApplyResult r =
        engine.applyDiff(layer, in, new LayerApplier.Expect(digest, null), req.getSyncFs());
    LOG.info(
        "apply {}: {} bytes ({} uncompressed), {} entries, {} ms, pipeline into {} ({}) from {},"
            + " diffID {}",
        digest,
        r.digests().compressedSize(),
        r.digests().uncompressedSize(),
        r.counts().entries(),
        millis(start),
        layer,
        engine.driver().name(),
        source,
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

  /**
   * Why the pipeline cannot serve this Apply as the walking differ would, or null when it can: a
   * media type whose decoding containerd leaves to its configured stream processors (or that is no
   * layer), stream processor payloads, mounts that are not exactly one of layerd's active
   * snapshots, or an active snapshot that holds changes already.
   */
  private String pipelineRefusal(DiffProto.ApplyRequest req, Snapshotter.Match target)
      throws IOException {
    Descriptor d = req.getDiff();
    String type =
        APPLY_TYPES.contains(d.getMediaType())
            ? null
            : "media type " + d.getMediaType() + " is not one layerd decodes itself";
    String payloads =
        req.getPayloadsCount() == 0
            ? null
            : "stream processor payloads " + new TreeSet<>(req.getPayloadsMap().keySet());
    if (type != null || payloads != null) {
      return type == null ? payloads : payloads == null ? type : type + "; " + payloads;
    }
    if (!SHA256.matcher(d.getDigest()).matches()) {
      return "digest " + d.getDigest() + " is not a sha256 digest";
    }
    if (target == null) {
      return "the mounts are not those of one of layerd's active snapshots";
    }
    if (engine.driver().deletionForm() != DeletionForm.ABSENT) {
      // An upper directory holding changes already (a second layer applied into one snapshot):
      // the walking differ applies on the merged tree, which layerd's overlay form would not.
      try (var entries = Files.list(engine.driver().diffDirectory(target.rec().layer()))) {
        if (entries.findAny().isPresent()) {
          return "the active snapshot's upper directory is not empty";
        }
      }
    }
    return null;
  }

  /** The active snapshot the mounts are exactly, or null. */
  private Snapshotter.Match applyTarget(List<MountProto.Mount> mounts) throws IOException {
    List<Snapshotter.Match> m = snapshotter.match(engineMounts(mounts));
    return m.size() != 1 || m.get(0).readOnly() ? null : m.get(0);
  }

  /**
   * Hands an Apply the pipeline cannot serve to containerd's diff service, whose differs (the
   * walking differ among them) serve it as they would without layerd: so that the transfer service,
   * which asks one differ and has no chain, fails no request the walking differ would have served.
   * Without containerd's socket or the caller's namespace, layerd declines instead (the diff
   * service's chain then asks the next differ).
   */
  private void handOver(
      DiffProto.ApplyRequest req,
      String key,
      String namespace,
      String refusal,
      long start,
      StreamObserver<DiffProto.ApplyResponse> out) {
    String digest = req.getDiff().getDigest();
    if (containerd == null || namespace == null) {
      declined(
          "apply",
          digest,
          start,
          new Decline(
              refusal
                  + (containerd == null
                      ? " (no containerd socket to hand it to)"
                      : " (the caller's namespace is not known)")),
          out);
      return;
    }
    DiffProto.ApplyResponse r;
    handedOver.add(key);
    try {
      r = containerd.apply(namespace, req);
    } catch (StatusRuntimeException e) {
      LOG.info(
          "apply {}: {} ms, handed to containerd's diff service in namespace {} ({}), which"
              + " answered {}: {}",
          digest,
          millis(start),
          namespace,
          refusal,
          e.getStatus().getCode(),
          e.getStatus().getDescription());
      out.onError(e.getStatus().asRuntimeException());
      return;
    } finally {
      handedOver.remove(key);
    }
    LOG.info(
        "apply {}: {} bytes uncompressed, {} ms, handed to containerd's diff service in namespace"
            + " {} ({}), diffID {}",
        digest,
        r.getApplied().getSize(),
        millis(start),
        namespace,
        refusal,
        r.getApplied().getDigest());
    out.onNext(r);
    out.onCompleted();
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

  /**
   * What a Diff request diffs: the upper snapshot's layer, its parent, the namespace, the caller's
   * lease in it (or null), the media type.
   */
  private record Target(
      String layer, String parent, String namespace, String callerLease, String mediaType) {}

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
    // The caller's namespace, as the walking differ writes in it; else the snapshot key's.
    String namespace = CALLER_NAMESPACE.get();
    // The caller's lease is a name in the caller's namespace: used only with it.
    String callerLease = namespace == null ? null : CALLER_LEASE.get();
    if (namespace == null) {
      Set<String> namespaces = new HashSet<>();
      for (Snapshotter.Match m : upper) {
        namespaces.add(m.namespace());
      }
      if (namespaces.size() != 1 || namespaces.contains(null)) {
        throw new Decline(
            "containerd sent no namespace and the snapshot's key names none layerd can use");
      }
      namespace = namespaces.iterator().next();
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
    return new Target(layer, parent, namespace, callerLease, mediaType);
  }

  private static boolean isEmptyView(Snapshotter.Match m) {
    return m.rec().kind() == SnapshotRecords.Kind.VIEW && m.rec().ownsLayer();
  }

  private Descriptor write(Target t, DiffProto.DiffRequest req, long start) throws IOException {
    String ref = req.getRef().isEmpty() ? uniqueRef() : req.getRef();
    // The caller's lease holds the layer as the walking differ's; else an expiring one of layerd's.
    String lease =
        t.callerLease != null ? t.callerLease : containerd.createLease(t.namespace, LEASE_TTL);
    DiffCompression.Codec codec = compression.codec(t.mediaType);
    MessageDigest compressed = sha256();
    MessageDigest uncompressed = sha256();
    Engine.DiffResult dr;
    boolean stored;
    long size;
    boolean done = false;
    try (ContainerdClient.Upload up = containerd.upload(t.namespace, lease, ref)) {
      OutputStream digested = new DigestOutputStream(up, compressed);
      OutputStream packed = DiffCompression.compressor(codec, new Unclosed(digested));
      try (OutputStream tar = new DigestOutputStream(packed, uncompressed)) {
        dr = engine.diffWithCount(t.layer, t.parent, tar);
      }
      size = up.size();
      Map<String, String> labels = new LinkedHashMap<>(req.getLabelsMap());
      labels.put(LABEL_UNCOMPRESSED, hex(uncompressed));
      stored = up.commit(hex(compressed), labels);
      done = true;
    } finally {
      if (!done && t.callerLease == null) {
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
        "diff {}: {} bytes ({} uncompressed), {} entries, {} ms, {} of {} ({}), {} (--diff-compression"
            + " {}), in namespace {} under {} lease {}{}, diffID {}",
        digest,
        size,
        dr.bytes(),
        dr.changes(),
        millis(start),
        dr.nativeChanges() ? "native diff" : "tree comparison",
        t.layer,
        engine.driver().name(),
        codec,
        compression,
        t.namespace,
        t.callerLease != null ? "the caller's" : "layerd's",
        lease,
        stored ? "" : " (the content existed)",
        diffId);
    return Descriptor.newBuilder()
        .setMediaType(t.mediaType)
        .setDigest(digest)
        .setSize(size)
        .build();
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
