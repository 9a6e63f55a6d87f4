package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import com.google.protobuf.UnknownFieldSet;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.layerd.daemon.containerd.proto.DescriptorProto.Descriptor;
import io.layerd.daemon.containerd.proto.DiffGrpc;
import io.layerd.daemon.containerd.proto.DiffProto;
import io.layerd.daemon.containerd.proto.MountProto;
import io.layerd.daemon.containerd.proto.SnapshotsGrpc;
import io.layerd.daemon.containerd.proto.SnapshotsProto;
import io.layerd.engine.DriverSelector;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.spi.Host;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRemapper;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.Tiers;
import io.layerd.unpack.IdOwners;
import io.layerd.unpack.OwnerMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * layerd as containerd's differ, over the real gRPC interface on a unix socket with the real
 * engine: Apply reads the blob from a containerd root's blob directory and applies it into the
 * active snapshot containerd prepared; what layerd cannot serve as well as the walking differ is
 * declined with Unimplemented (containerd then asks the walking differ); an owner outside the
 * mapping fails with layerd's message in the status. Writing a commit's layer needs containerd's
 * content service: the end-to-end test does that with a real containerd.
 */
@Tag(Tiers.ROOT)
class DiffServiceTest {
  static {
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap", "error");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"overlay2", "vfs"})
  void applyReadsTheBlobFromContainerdsRootIntoTheActiveSnapshot(String driver) throws Exception {
    Require.root();
    try (Rig r = new Rig(driver, OwnerMapper.identity())) {
      TarBuilder baseTar =
          TarBuilder.create()
              .dir("etc")
              .file("etc/hostname", "base\n")
              .owner(1000, 1001)
              .file("etc/gone", "x")
              .dir("opt")
              .file("opt/old", "old");
      byte[] base = baseTar.gzip();
      List<MountProto.Mount> m1 = r.prepare("default/1/extract-1", "");
      DiffProto.ApplyResponse a1 =
          r.stub.apply(r.applyRequest(base, DiffService.OCI_LAYER_GZIP, m1));
      assertEquals(DiffService.OCI_LAYER, a1.getApplied().getMediaType());
      byte[] tar1 = baseTar.build();
      assertEquals(sha256(tar1), a1.getApplied().getDigest(), "the diffID");
      assertEquals(tar1.length, a1.getApplied().getSize());
      if (driver.equals("overlay2")) {
        assertEquals(
            Status.Code.UNIMPLEMENTED,
            code(() -> r.stub.apply(r.applyRequest(base, DiffService.OCI_LAYER_GZIP, m1))),
            "a second layer into one upper directory: the walking differ merges it");
      }
      r.commit("default/2/sha256:base", "default/1/extract-1");

      byte[] top =
          TarBuilder.create().whiteout("etc/gone").opaque("opt").file("opt/new", "new").zstd();
      List<MountProto.Mount> m2 = r.prepare("default/3/extract-2", "default/2/sha256:base");
      r.stub.apply(r.applyRequest(top, DiffService.OCI_LAYER_ZSTD, m2));
      r.commit("default/4/sha256:top", "default/3/extract-2");

      // The snapshots' trees as containerd would mount them.
      Path view = r.mount(r.view("default/5/view", "default/4/sha256:top"));
      try {
        assertEquals("base\n", Files.readString(view.resolve("etc/hostname")));
        assertFalse(Files.exists(view.resolve("etc/gone"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(view.resolve("opt/old"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("new", Files.readString(view.resolve("opt/new")));
        Stat st = Sys.lstat(view.resolve("opt/new").toString());
        assertEquals(0, st.uid());
        Stat hn = Sys.lstat(view.resolve("etc/hostname").toString());
        assertEquals(1000, hn.uid(), "owners as the layer states them");
        assertEquals(1001, hn.gid());
      } finally {
        r.unmount(view);
      }
      if (driver.equals("overlay2")) {
        // Straight into the layer's own directory, in the driver's whiteout form.
        Path diff = r.layerDir("default/4/sha256:top");
        Stat wh = Sys.lstat(diff.resolve("etc/gone").toString());
        assertEquals(Sys.S_IFCHR, wh.type(), "an overlay whiteout");
        assertEquals(0, wh.rdevMajor() + wh.rdevMinor());
        assertFalse(Files.exists(diff.resolve("etc/hostname")), "the lower file is not copied");
      }
    }
  }

  @Test
  void whatLayerdCannotServeWellIsLeftToTheNextDiffer() throws Exception {
    Require.root();
    try (Rig r = new Rig("vfs", OwnerMapper.identity())) {
      byte[] layer = TarBuilder.create().file("f", "x").gzip();
      List<MountProto.Mount> mine = r.prepare("default/1/extract", "");

      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(() -> r.stub.apply(r.applyRequest(layer, "application/vnd.example+gzip", mine))),
          "an unknown media type");
      List<MountProto.Mount> foreign =
          List.of(
              MountProto.Mount.newBuilder()
                  .setType("bind")
                  .setSource(r.dir.toString())
                  .addOptions("rbind")
                  .addOptions("rw")
                  .build());
      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(() -> r.stub.apply(r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, foreign))),
          "mounts of another snapshotter");
      List<MountProto.Mount> changed =
          List.of(mine.get(0).toBuilder().clearOptions().addOptions("bind").build());
      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(() -> r.stub.apply(r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, changed))),
          "layerd's mounts, changed on the way");
      DiffProto.ApplyRequest encrypted =
          r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, mine).toBuilder()
              .putPayloads("io.containerd.ocicrypt.decoder.v1.tar+gzip", Any.getDefaultInstance())
              .build();
      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(() -> r.stub.apply(encrypted)),
          "stream processors (encrypted layers)");
      DiffProto.ApplyRequest absent =
          DiffProto.ApplyRequest.newBuilder()
              .setDiff(
                  Descriptor.newBuilder()
                      .setMediaType(DiffService.OCI_LAYER_GZIP)
                      .setDigest(sha256("not stored".getBytes(StandardCharsets.UTF_8)))
                      .setSize(10))
              .addAllMounts(mine)
              .build();
      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(() -> r.stub.apply(absent)),
          "a blob that is not in containerd's blob directory");
      // Diff on vfs (no upper directory), or with a source date epoch, or without containerd.
      r.commit("default/2/c", "default/1/extract");
      List<MountProto.Mount> upper = r.prepare("default/3/container", "default/2/c");
      List<MountProto.Mount> lower = r.view("default/4/lower", "default/2/c");
      DiffProto.DiffRequest diff =
          DiffProto.DiffRequest.newBuilder().addAllLeft(lower).addAllRight(upper).build();
      assertEquals(Status.Code.UNIMPLEMENTED, code(() -> r.stub.diff(diff)));
      assertEquals(
          Status.Code.UNIMPLEMENTED,
          code(
              () ->
                  r.stub.diff(
                      diff.toBuilder()
                          .setSourceDateEpoch(Timestamp.newBuilder().setSeconds(1))
                          .build())));

      // And the snapshot is untouched: the walking differ gets it as it was.
      assertEquals(List.of(), listNames(r.layerDir("default/3/container")), "nothing applied");
    }
  }

  @Test
  void aLayerWhoseBlobDiffersFromItsDigestFailsAndLeavesNothing() throws Exception {
    Require.root();
    try (Rig r = new Rig("vfs", OwnerMapper.identity())) {
      byte[] layer = TarBuilder.create().file("f", "x").gzip();
      List<MountProto.Mount> m = r.prepare("default/1/extract", "");
      DiffProto.ApplyRequest req = r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, m);
      Files.write(r.blob(req.getDiff().getDigest()), TarBuilder.create().file("g", "y").gzip());
      StatusRuntimeException e =
          assertThrows(StatusRuntimeException.class, () -> r.stub.apply(req));
      assertFalse(e.getStatus().getCode() == Status.Code.UNIMPLEMENTED, e.toString());
      assertTrue(e.getStatus().getDescription().contains("digest"), e.toString());
    }
  }

  @Test
  void anOwnerOutsideTheMappingFailsWithLayerdsMessageInTheStatus() throws Exception {
    Require.root();
    // A rootless layout's 65,536 ids: uid 185992 (as in ggcr's test image) is not among them.
    IdMapping m = IdMapping.parseProcMap("0 0 65536\n");
    OwnerMapper owners =
        IdOwners.of(
            IdRemapper.builder()
                .processMappings(new IdMappings(m, m))
                .subordinateIds(null)
                .build());
    try (Rig r = new Rig("vfs", owners)) {
      byte[] layer =
          TarBuilder.create().dir("tmp").file("tmp/foo", "foo").owner(185992, 5000).gzip();
      List<MountProto.Mount> mounts = r.prepare("moby/1/extract", "");
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () -> r.stub.apply(r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, mounts)));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
      String msg = e.getStatus().getDescription();
      assertTrue(msg.contains("tmp/foo"), msg);
      assertTrue(msg.contains("185992"), msg);
      assertTrue(msg.contains("65536") || msg.contains("65,536"), msg);
      assertTrue(msg.contains("/etc/subuid") && msg.contains("usermod"), msg);
    }
  }

  /**
   * A Diff whose request carries the caller's lease ({@code containerd-lease}, with {@code
   * containerd-namespace}) is written under that lease, as the walking differ's, and layerd makes
   * no lease; without one (containerd 2.1.9 sends none to a proxy differ, containerd#12328), or
   * with a lease but no namespace to find it in, under an expiring lease of layerd's in the
   * snapshot's namespace.
   */
  @Test
  void diffWritesUnderTheCallersLeaseWhenContainerdSendsOne() throws Exception {
    Require.root();
    Path fakeDir = Files.createTempDirectory(Path.of("/tmp"), "fct");
    try (FakeContainerd containerd = new FakeContainerd(fakeDir.resolve("c.sock"));
        Rig r = new Rig("overlay2", OwnerMapper.identity(), containerd.socket)) {
      r.prepare("default/1/base", "");
      r.commit("default/2/base", "default/1/base");
      List<MountProto.Mount> upper = r.prepare("default/3/container", "default/2/base");
      Files.writeString(r.layerDir("default/3/container").resolve("new"), "made in a container\n");
      List<MountProto.Mount> lower = r.view("default/4/lower", "default/2/base");
      DiffProto.DiffRequest req =
          DiffProto.DiffRequest.newBuilder().addAllLeft(lower).addAllRight(upper).build();

      Descriptor withLease =
          r.stub.withInterceptors(headers("default", "the-callers-lease")).diff(req).getDiff();
      assertEquals(1, containerd.writes.size());
      FakeContainerd.Write w = containerd.writes.get(0);
      assertEquals("default", w.namespace());
      assertEquals("the-callers-lease", w.lease(), "written under the caller's lease");
      assertEquals(List.of(), containerd.leases, "layerd made no lease of its own");
      assertEquals(withLease.getDigest(), w.digest());
      byte[] tar = gunzip(w.bytes());
      assertEquals(sha256(tar), w.labels().get(DiffService.LABEL_UNCOMPRESSED));
      assertTrue(
          new String(tar, StandardCharsets.ISO_8859_1).contains("made in a container"),
          "the container's file is in the layer");

      // containerd 2.1.9: the namespace only. Then a lease with no namespace to find it in.
      r.stub.withInterceptors(headers("default", null)).diff(req);
      r.stub.withInterceptors(headers(null, "the-callers-lease")).diff(req);
      assertEquals(3, containerd.writes.size());
      assertEquals(2, containerd.leases.size(), containerd.leases.toString());
      for (int i = 0; i < 2; i++) {
        FakeContainerd.Lease own = containerd.leases.get(i);
        assertEquals("default", own.namespace(), "the caller's, else the snapshot key's");
        assertTrue(own.id().startsWith("layerd-diff-"), own.id());
        assertTrue(own.labels().containsKey("containerd.io/gc.expire"), own.labels().toString());
        assertEquals(own.id(), containerd.writes.get(i + 1).lease());
      }
    } finally {
      io.layerd.testkit.TestFiles.deleteTree(fakeDir);
    }
  }

  /**
   * What layerd hands to containerd's diff service is the caller's request byte for byte: its
   * stream processor payloads (ocicrypt passes the decryption keys there; containerd gives each
   * processor the payload under its id, on fd 3), a field layerd does not know, in the caller's
   * namespace. containerd's chain asks layerd again, which declines the request it handed over
   * itself, and containerd's answer, or its failure, reaches the caller unchanged. containerd's
   * diff service is a fake here that records what it is given; the end-to-end test ({@code
   * ContainerdSnapshotterTest}) runs a real stream processor that needs such a payload.
   */
  @Test
  void aHandedOverApplyReachesContainerdUnchangedWithItsPayloads() throws Exception {
    Require.root();
    Path fakeDir = Files.createTempDirectory(Path.of("/tmp"), "dsf");
    Path fakeSocket = fakeDir.resolve("containerd.sock");
    try (Rig r = new Rig("vfs", OwnerMapper.identity(), fakeSocket);
        FakeContainerdDiff containerd = new FakeContainerdDiff(fakeSocket, r.channel)) {
      List<MountProto.Mount> mounts = r.prepare("default/1/extract", "");
      byte[] layer = TarBuilder.create().file("f", "x").gzip();
      DiffProto.ApplyRequest plain = r.applyRequest(layer, DiffService.OCI_LAYER_GZIP, mounts);
      DiffProto.ApplyRequest sent =
          plain.toBuilder()
              .setDiff(plain.getDiff().toBuilder().setMediaType(ENCRYPTED))
              .putPayloads(
                  "io.containerd.ocicrypt.decoder.v1.tar.gzip",
                  Any.newBuilder()
                      .setTypeUrl("io.containerd.ocicrypt.v1.Payload")
                      .setValue(ByteString.copyFrom(new byte[] {0, 1, 2, (byte) 0xff, 10}))
                      .build())
              .putPayloads(
                  "io.layerd.test.processor",
                  Any.newBuilder().setTypeUrl("example.com/Key").build())
              .setSyncFs(true)
              .setUnknownFields(
                  UnknownFieldSet.newBuilder()
                      .addField(
                          99,
                          UnknownFieldSet.Field.newBuilder()
                              .addLengthDelimited(ByteString.copyFromUtf8("a newer containerd's"))
                              .build())
                      .build())
              .build();
      Descriptor applied =
          Descriptor.newBuilder()
              .setMediaType(DiffService.OCI_LAYER)
              .setDigest(sha256("what the walking differ applied".getBytes(StandardCharsets.UTF_8)))
              .setSize(2048)
              .putAnnotations("from", "containerd")
              .build();
      containerd.answer = DiffProto.ApplyResponse.newBuilder().setApplied(applied).build();

      DiffProto.ApplyResponse got = r.stub.withInterceptors(namespace("caller-ns")).apply(sent);

      assertEquals(containerd.answer, got, "containerd's answer, unchanged");
      assertEquals(1, containerd.received.size());
      assertEquals(
          ByteString.copyFrom(sent.toByteArray()),
          ByteString.copyFrom(containerd.received.get(0).toByteArray()),
          "the request, byte for byte");
      assertEquals(List.of("caller-ns"), containerd.namespaces, "in the caller's namespace");
      assertEquals(
          List.of(Status.Code.UNIMPLEMENTED), containerd.reasked, "layerd declines its hand-over");
      assertEquals(List.of(), listNames(r.layerDir("default/1/extract")), "layerd applied nothing");

      // Payloads with a media type layerd decodes itself: handed over all the same (only the
      // stream processors know what they are for); containerd's failure is the caller's.
      DiffProto.ApplyRequest payloadsOnly =
          plain.toBuilder().putAllPayloads(sent.getPayloadsMap()).build();
      containerd.failure =
          Status.FAILED_PRECONDITION.withDescription(
              "failed to get stream processor for " + ENCRYPTED + ": no processor for media-type");
      StatusRuntimeException e =
          assertThrows(
              StatusRuntimeException.class,
              () -> r.stub.withInterceptors(namespace("caller-ns")).apply(payloadsOnly));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
      assertEquals(containerd.failure.getDescription(), e.getStatus().getDescription());
      assertEquals(payloadsOnly, containerd.received.get(1));
      assertEquals(List.of(), listNames(r.layerDir("default/1/extract")), "layerd applied nothing");
    } finally {
      io.layerd.testkit.TestFiles.deleteTree(fakeDir);
    }
  }

  private static ClientInterceptor headers(String namespace, String lease) {
    Metadata m = new Metadata();
    if (namespace != null) {
      m.put(Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER), namespace);
    }
    if (lease != null) {
      m.put(Metadata.Key.of("containerd-lease", Metadata.ASCII_STRING_MARSHALLER), lease);
    }
    return MetadataUtils.newAttachHeadersInterceptor(m);
  }

  private static byte[] gunzip(byte[] gz) throws IOException {
    try (java.io.InputStream in =
        new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  static final String ENCRYPTED = DiffService.OCI_LAYER_GZIP + "+encrypted";

  private static final Metadata.Key<String> NAMESPACE_HEADER =
      Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);

  static ClientInterceptor namespace(String ns) {
    Metadata m = new Metadata();
    m.put(NAMESPACE_HEADER, ns);
    return MetadataUtils.newAttachHeadersInterceptor(m);
  }

  /**
   * containerd's diff service as layerd meets it on containerd's socket: it records each Apply and
   * its namespace, asks layerd (its first differ) the same request again as containerd's chain
   * does, and then answers {@link #answer}, or fails with {@link #failure}.
   */
  static final class FakeContainerdDiff extends DiffGrpc.DiffImplBase implements AutoCloseable {
    final List<DiffProto.ApplyRequest> received = new CopyOnWriteArrayList<>();
    final List<String> namespaces = new CopyOnWriteArrayList<>();
    final List<Status.Code> reasked = new CopyOnWriteArrayList<>();
    volatile DiffProto.ApplyResponse answer;
    volatile Status failure;
    private final ManagedChannel layerd;
    private final UnixGrpcServer server;

    FakeContainerdDiff(Path socket, ManagedChannel layerd) throws IOException {
      this.layerd = layerd;
      ServerInterceptor recordNamespace =
          new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
              namespaces.add(String.valueOf(headers.get(NAMESPACE_HEADER)));
              return next.startCall(call, headers);
            }
          };
      server = new UnixGrpcServer(socket, ServerInterceptors.intercept(this, recordNamespace));
    }

    @Override
    public void apply(DiffProto.ApplyRequest req, StreamObserver<DiffProto.ApplyResponse> out) {
      received.add(req);
      String ns = namespaces.get(namespaces.size() - 1);
      try {
        DiffGrpc.newBlockingStub(layerd)
            .withInterceptors(namespace(ns))
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .apply(req);
        reasked.add(Status.Code.OK);
      } catch (StatusRuntimeException e) {
        reasked.add(e.getStatus().getCode());
      }
      if (failure != null) {
        out.onError(failure.asRuntimeException());
      } else {
        out.onNext(answer);
        out.onCompleted();
      }
    }

    @Override
    public void close() {
      server.close();
    }
  }

  // ------------------------------------------------------------------ helpers

  static Status.Code code(Call c) {
    return assertThrows(StatusRuntimeException.class, c::run).getStatus().getCode();
  }

  interface Call {
    void run() throws Exception;
  }

  static String sha256(byte[] b) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  static List<String> listNames(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** An engine, layerd's containerd socket, and a containerd root with a blob directory. */
  static final class Rig implements AutoCloseable {
    final Path dir;
    final Path containerdRoot;
    final Engine engine;
    final SnapshotterServer server;
    final UnixGrpcChannel connection;
    final ManagedChannel channel;
    final DiffGrpc.DiffBlockingStub stub;
    final SnapshotsGrpc.SnapshotsBlockingStub snapshots;
    int mounts;

    Rig(String driver, OwnerMapper owners) throws IOException {
      this(driver, owners, null);
    }

    /** With containerd's socket at {@code containerdAddress} (or none). */
    Rig(String driver, OwnerMapper owners, Path containerdAddress) throws IOException {
      dir = Files.createTempDirectory(Path.of("/tmp"), "dst");
      containerdRoot = dir.resolve("containerd");
      Files.createDirectories(
          containerdRoot.resolve("io.containerd.content.v1.content/blobs/sha256"));
      engine =
          Engine.open(
              new EngineConfig(
                  dir.resolve("root"),
                  driver,
                  Map.of(),
                  Host.current(),
                  DriverSelector.installed(),
                  owners));
      server =
          SnapshotterServer.start(engine, dir.resolve("s.sock"), containerdRoot, containerdAddress);
      connection = UnixGrpcChannel.open(server.socket());
      channel = connection.channel();
      stub = DiffGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
      snapshots = SnapshotsGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    Path blob(String digest) {
      return containerdRoot
          .resolve("io.containerd.content.v1.content/blobs/sha256")
          .resolve(digest.substring("sha256:".length()));
    }

    /** Stores the blob as containerd's content store would, and asks for it to be applied. */
    DiffProto.ApplyRequest applyRequest(
        byte[] blob, String mediaType, List<MountProto.Mount> mounts) throws Exception {
      String digest = sha256(blob);
      Files.write(blob(digest), blob);
      return DiffProto.ApplyRequest.newBuilder()
          .setDiff(
              Descriptor.newBuilder()
                  .setMediaType(mediaType)
                  .setDigest(digest)
                  .setSize(blob.length))
          .addAllMounts(mounts)
          .build();
    }

    List<MountProto.Mount> prepare(String key, String parent) {
      return snapshots
          .prepare(
              SnapshotsProto.PrepareSnapshotRequest.newBuilder()
                  .setKey(key)
                  .setParent(parent)
                  .build())
          .getMountsList();
    }

    List<MountProto.Mount> view(String key, String parent) {
      return snapshots
          .view(
              SnapshotsProto.ViewSnapshotRequest.newBuilder().setKey(key).setParent(parent).build())
          .getMountsList();
    }

    void commit(String name, String key) {
      snapshots.commit(
          SnapshotsProto.CommitSnapshotRequest.newBuilder().setName(name).setKey(key).build());
    }

    Path layerDir(String key) throws IOException {
      return engine
          .driver()
          .diffDirectory(SnapshotRecords.open(engine.dataRoot()).get(key).layer());
    }

    /** Mounts as containerd does (mount(8) with the type, source and options given). */
    Path mount(List<MountProto.Mount> ms) throws Exception {
      assertEquals(1, ms.size());
      MountProto.Mount m = ms.get(0);
      Path target = Files.createDirectories(dir.resolve("m" + mounts++));
      List<String> opts = m.getOptionsList();
      String type = m.getType();
      List<String> cmd =
          type.equals("bind")
              ? List.of(
                  "mount", "--bind", "-o", String.join(",", opts), m.getSource(), target.toString())
              : List.of(
                  "mount",
                  "-t",
                  type,
                  "-o",
                  String.join(",", opts),
                  m.getSource(),
                  target.toString());
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(0, p.waitFor(), "mount: " + out);
      return target;
    }

    void unmount(Path target) throws Exception {
      Process p = new ProcessBuilder("umount", target.toString()).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      assertEquals(0, p.waitFor());
    }

    @Override
    public void close() throws IOException {
      connection.close();
      server.close();
      engine.close();
      io.layerd.testkit.TestFiles.deleteTree(dir);
    }
  }
}
