package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.daemon.containerd.SnapshotterServerAccess;
import io.layerd.daemon.containerd.UnixGrpcChannel;
import io.layerd.daemon.containerd.proto.DescriptorProto;
import io.layerd.daemon.containerd.proto.DiffGrpc;
import io.layerd.daemon.containerd.proto.DiffProto;
import io.layerd.daemon.containerd.proto.MountProto;
import io.layerd.daemon.containerd.proto.SnapshotsGrpc;
import io.layerd.daemon.containerd.proto.SnapshotsProto;
import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import io.layerd.testkit.Tiers;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * layerd as containerd's proxy snapshotter, end to end: a real containerd (its config naming
 * layerd's socket under [proxy_plugins]) imports images onto layerd's layers, runs a container on
 * them, and every image's tree, mounted as containerd mounts it, equals the one containerd's own
 * snapshotter gives. Removing the images lets containerd's garbage collection remove every
 * snapshot, and with them the engine's layers. Debian 12's containerd 1.6 on every driver (against
 * {@code native}); containerd 2.1 on the config {@code layerd config containerd} prints (against
 * {@code overlayfs}).
 */
class ContainerdSnapshotterTest {
  private static final String BUSYBOX = "busybox:1.38.0-glibc";

  /** The images (an OCI layout and docker-save tars: whiteouts, opaque directories, 14 layers). */
  private static final List<String> IMAGES =
      List.of(BUSYBOX, "docker.io/library/whiteout:latest", "docker.io/library/dive-test:latest");

  /** Starts a containerd that knows layerd's snapshotter on {@code snapSocket}. */
  private interface RigStarter {
    ContainerdRig start(Path dir, Path snapSocket, Path dataRoot) throws IOException;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"overlay2", "vfs", "fuse-overlayfs", "btrfs"})
  @Tag(Tiers.ROOT)
  void containerdRunsOnLayerdAndSeesWhatNativeSees(String driver) throws Exception {
    Require.root();
    for (String c : List.of("containerd", "ctr", "runc", "containerd-shim-runc-v2")) {
      Require.command(c);
    }
    importRunCompareCollect(
        driver, (d, s, r) -> ContainerdRig.start(d, "layerd", s), "native", false);
  }

  /**
   * containerd 2.1.9 on the generated config: {@code ctr images import --snapshotter layerd}
   * unpacks through the transfer service (the config's unpack entry) with layerd's differ (every
   * image layer applied by layerd, diffIDs as containerd checks them against the image's config),
   * also a zstd OCI archive, and {@code ctr run} runs on it; {@code ctr snapshots diff} of a
   * changed container snapshot goes to layerd's differ, whose layer holds what the walking differ's
   * holds on overlayfs.
   */
  @EndToEndTest
  void containerd21OnTheGeneratedConfigRunsOnLayerd() throws Exception {
    Require.root();
    Require.command("runc");
    ModernClients clients = ModernClients.get();
    importRunCompareCollect(
        "overlay2",
        (d, s, r) -> ContainerdRig.startWithLayerd(d, clients, s, r),
        "overlayfs",
        true);
  }

  /**
   * containerd 2.1.9 on the generated config with what a user adds to it: a real stream processor
   * ({@code [stream_processors]} after the config's lines: {@link DecryptingProcessor}, openssl
   * decrypting {@link DecryptingProcessor#ENCRYPTED} layers), and overlayfs's unpack entry naming
   * layerd's differ too. layerd's differ is told a containerd root that is not containerd's, so
   * that it reads the blobs through containerd's content service. Its tests share one layerd and
   * one containerd; each imports images of its own.
   */
  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class HandedToContainerd {
    private Path dir;
    private Daemon layerd;
    private ContainerdRig rig;
    private DecryptingProcessor processor;

    @BeforeAll
    void start() throws Exception {
      Require.root();
      Require.command("openssl");
      ModernClients clients = ModernClients.get();
      dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
      Path snapSocket = dir.resolve("snap.sock");
      Path dataRoot = dir.resolve("layerd");
      Settings settings =
          Settings.of(dataRoot, dir.resolve("gd.sock"), "overlay2")
              .withContainerdSocket(snapSocket)
              .withContainerd(
                  Files.createDirectories(dir.resolve("not-containerds-root")),
                  dir.resolve("c/containerd.sock"));
      processor = DecryptingProcessor.write(dir);
      // overlayfs's unpack entry names layerd's differ too: it is then given mounts not its own
      UnaryOperator<String> edit =
          c -> {
            String entry = "snapshotter = 'overlayfs'}";
            assertTrue(c.contains(entry), c);
            return c.replace(entry, "snapshotter = 'overlayfs', differ = 'layerd-diff'}")
                + processor.config();
          };
      layerd = Daemon.start(settings);
      rig = ContainerdRig.startWithLayerd(dir.resolve("c"), clients, snapSocket, dataRoot, edit);
    }

    @AfterAll
    @SuppressWarnings("try") // only closed: containerd first, then layerd
    void stop() throws Exception {
      try (Daemon closeLast = layerd;
          ContainerdRig closeFirst = rig) {
      } finally {
        if (dir != null) {
          ContainerdRig.unmountUnder(dir);
          deleteTree(dir);
        }
      }
    }

    /**
     * The transfer service behind {@code ctr images import} asks layerd's differ alone (no chain),
     * and layerd serves every layer the walking differ would: a blob that is not in the blob
     * directory layerd was told of is read through containerd's content service into the pipeline,
     * and a layer whose media type containerd leaves to its stream processors ({@code
     * +gzip+custom}: no processor takes it, and the walking differ decodes it as gzip, the last of
     * its sorted suffixes) is handed to containerd's diff service, whose walking differ applies it
     * into layerd's snapshot. So is a layer for another snapshotter's mounts, when its unpack entry
     * names layerd's differ too.
     */
    @EndToEndTest
    void theTransferRouteFailsNoLayerTheWalkingDifferServes() throws Exception {
      String readImage = "docker.io/library/layerd-read:1";
      String handedImage = "docker.io/library/layerd-handed:1";
      TarBuilder read = TarBuilder.create().dir("etc").file("etc/read", "content service\n");
      TarBuilder handed = TarBuilder.create().dir("etc").file("etc/handed", "walking differ\n");
      String readId =
          OciArchive.single(
              readImage,
              "application/vnd.oci.image.layer.v1.tar+gzip",
              read.gzip(),
              read.build(),
              dir.resolve("read.tar"));
      String handedId =
          OciArchive.single(
              handedImage,
              "application/vnd.oci.image.layer.v1.tar+gzip+custom",
              handed.gzip(),
              handed.build(),
              dir.resolve("handed.tar"));
      for (String image : List.of("read.tar", "handed.tar")) {
        rig.ok("images", "import", "--snapshotter", "layerd", dir.resolve(image).toString());
      }
      rig.ok("images", "rm", "--sync", readImage);
      rig.ok("images", "import", "--snapshotter", "overlayfs", dir.resolve("read.tar").toString());
      assertEquals(
          "content service\n",
          mounted(
              rig,
              readImage,
              null,
              "overlayfs",
              "c0",
              dir.resolve("m0"),
              t -> read(t, "etc/read")));
      rig.ok("images", "import", "--snapshotter", "layerd", dir.resolve("read.tar").toString());
      // layerd's pipeline applied the first (its layer records the diffID), not the second.
      assertEquals(
          List.of(readId),
          pipelineApplied(layerd).stream()
              .filter(d -> d.equals(readId) || d.equals(handedId))
              .toList());
      assertEquals(
          "content service\n",
          mounted(
              rig, readImage, null, "layerd", "c1", dir.resolve("m1"), t -> read(t, "etc/read")));
      assertEquals(
          "walking differ\n",
          mounted(
              rig,
              handedImage,
              null,
              "layerd",
              "c2",
              dir.resolve("m2"),
              t -> read(t, "etc/handed")));
    }

    /**
     * An image whose second layer only a stream processor decodes: the gzip of a tar, encrypted
     * (AES-256-CTR) and typed {@link DecryptingProcessor#ENCRYPTED}, which containerd's configured
     * processor decrypts with openssl. Imported through the transfer service ({@code ctr images
     * import}) and through the diff service ({@code ctr images import --local}: the client's
     * unpack, containerd's chain of differs), layerd's pipeline applies the plain gzip layer and
     * hands the encrypted one to containerd's diff service, whose walking differ runs the processor
     * into layerd's snapshot: containerd checks both diffIDs against the image's config and commits
     * the chain, and the tree is the one the same layers in the clear give on overlayfs and the
     * walking differ.
     */
    @EndToEndTest
    void anEncryptedLayerIsDecryptedByContainerdsStreamProcessor() throws Exception {
      for (String route : List.of("transfer", "local")) {
        List<OciArchive.Layer> clear = layers(route);
        OciArchive.Layer plain = clear.get(0);
        OciArchive.Layer encrypted =
            new OciArchive.Layer(
                DecryptingProcessor.ENCRYPTED,
                processor.encrypt(clear.get(1).blob()),
                clear.get(1).tar());
        String image = "docker.io/library/layerd-encrypted-" + route + ":1";
        String clearImage = "docker.io/library/layerd-clear-" + route + ":1";
        Path archive = dir.resolve("encrypted-" + route + ".tar");
        String chain = OciArchive.image(image, List.of(plain, encrypted), archive);
        OciArchive.image(clearImage, clear, dir.resolve("clear-" + route + ".tar"));
        int runs = processor.runs().size();
        try (StderrLog log = new StderrLog()) {
          List<String> cmd = new ArrayList<>(List.of("images", "import"));
          if (route.equals("local")) {
            cmd.add("--local");
          }
          cmd.addAll(List.of("--snapshotter", "layerd", archive.toString()));
          rig.ok(cmd.toArray(String[]::new));

          List<String> plainLines = log.lines("apply " + digest(plain.blob()) + ":");
          assertEquals(1, plainLines.size(), route + ": " + plainLines);
          assertTrue(plainLines.get(0).contains(", pipeline into "), plainLines.get(0));
          List<String> encryptedLines = log.lines("apply " + digest(encrypted.blob()) + ":");
          String handedOver =
              "handed to containerd's diff service in namespace "
                  + ContainerdRig.NAMESPACE
                  + " (media type "
                  + DecryptingProcessor.ENCRYPTED
                  + " is not one layerd decodes itself), diffID "
                  + encrypted.diffId();
          assertTrue(
              encryptedLines.stream().anyMatch(l -> l.contains(handedOver)),
              route + ": " + encryptedLines);
          assertTrue(
              encryptedLines.stream().noneMatch(l -> l.contains("pipeline into")),
              route + ": " + encryptedLines);
        }
        assertEquals(
            List.of(DecryptingProcessor.ENCRYPTED + " key-file"),
            processor.runs().subList(runs, processor.runs().size()),
            "containerd ran the processor once, for the encrypted layer");
        List<String> applied = pipelineApplied(layerd);
        assertTrue(applied.contains(plain.diffId()), route + ": " + applied);
        assertFalse(applied.contains(encrypted.diffId()), route + ": " + applied);
        String snapshots = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out();
        assertTrue(snapshots.contains(chain), "the committed chain:\n" + snapshots);

        rig.ok(
            "images",
            "import",
            "--snapshotter",
            "overlayfs",
            dir.resolve("clear-" + route + ".tar").toString());
        TreeManifest.assertSame(
            tree(rig, clearImage, null, "overlayfs", "clear-" + route, dir.resolve("mc" + route)),
            tree(rig, image, null, "layerd", "enc-" + route, dir.resolve("me" + route)));
      }
    }

    /**
     * A payload for the processor (ocicrypt's clients pass the decryption keys so) on an Apply
     * asked of containerd's diff service, into a snapshot of layerd's that containerd prepared:
     * layerd hands the request over with its payload, and the processor, given the payload on fd 3,
     * decrypts a layer whose key only that payload gives. Without the payload the processor takes
     * its key file: the same layer fails with the walking differ's error, passed on unchanged.
     */
    @EndToEndTest
    void aStreamProcessorsPayloadReachesItThroughLayerd() throws Exception {
      Any payload =
          Any.newBuilder()
              .setTypeUrl("example.com/layerd.test.Key")
              .setValue(ByteString.copyFromUtf8("the key is this payload's SHA-256"))
              .build();
      OciArchive.Layer clear = layers("payload").get(1);
      OciArchive.Layer encrypted =
          new OciArchive.Layer(
              DecryptingProcessor.ENCRYPTED,
              DecryptingProcessor.encrypt(
                  clear.blob(), DecryptingProcessor.keyOf(payload.toByteArray())),
              clear.tar());
      Path archive = dir.resolve("payload.tar");
      OciArchive.image("docker.io/library/layerd-payload:1", List.of(encrypted), archive);
      rig.ok("images", "import", "--no-unpack", archive.toString());
      int runs = processor.runs().size();
      try (ContainerdApi api = new ContainerdApi(rig.socket(), ContainerdRig.NAMESPACE);
          StderrLog log = new StderrLog()) {
        DiffProto.ApplyRequest noPayload =
            DiffProto.ApplyRequest.newBuilder()
                .setDiff(
                    DescriptorProto.Descriptor.newBuilder()
                        .setMediaType(encrypted.mediaType())
                        .setDigest(digest(encrypted.blob()))
                        .setSize(encrypted.blob().length))
                .addAllMounts(api.prepare("layerd", "payload-none"))
                .build();
        StatusRuntimeException e =
            assertThrows(StatusRuntimeException.class, () -> api.diff.apply(noPayload));
        assertFalse(e.getStatus().getCode() == Status.Code.UNIMPLEMENTED, e.toString());
        String walking = e.getStatus().getDescription();
        assertTrue(
            log.lines("apply " + digest(encrypted.blob()) + ":").stream()
                .anyMatch(l -> l.contains("which answered") && l.contains(walking)),
            walking);

        DiffProto.ApplyRequest withPayload =
            noPayload.toBuilder()
                .clearMounts()
                .addAllMounts(api.prepare("layerd", "payload-given"))
                .putPayloads(DecryptingProcessor.ID, payload)
                .build();
        DiffProto.ApplyResponse applied = api.diff.apply(withPayload);
        assertEquals(encrypted.diffId(), applied.getApplied().getDigest());
        assertEquals(clear.tar().length, applied.getApplied().getSize());
        assertTrue(
            log.lines("apply " + digest(encrypted.blob()) + ":").stream()
                .anyMatch(
                    l ->
                        l.contains(
                            "handed to containerd's diff service in namespace "
                                + ContainerdRig.NAMESPACE
                                + " (media type "
                                + DecryptingProcessor.ENCRYPTED
                                + " is not one layerd decodes itself; stream processor payloads"
                                + " ["
                                + DecryptingProcessor.ID
                                + "])")),
            "layerd's log");
      }
      assertEquals(
          List.of(
              DecryptingProcessor.ENCRYPTED + " key-file",
              DecryptingProcessor.ENCRYPTED + " payload"),
          processor.runs().subList(runs, processor.runs().size()));
      assertEquals(
          "payload secret\n",
          mountedSnapshot(
              rig, "layerd", "payload-given", dir.resolve("mp"), t -> read(t, "etc/secret")));
      for (String key : List.of("payload-none", "payload-given")) {
        rig.ok("snapshots", "--snapshotter", "layerd", "rm", key);
      }
    }
  }

  /** containerd's own gRPC API on its socket, in one namespace: its diff and snapshots services. */
  static final class ContainerdApi implements AutoCloseable {
    private static final String GC_ROOT = "containerd.io/gc.root";
    final DiffGrpc.DiffBlockingStub diff;
    final SnapshotsGrpc.SnapshotsBlockingStub snapshots;
    private final UnixGrpcChannel connection;

    ContainerdApi(Path socket, String namespace) {
      connection = UnixGrpcChannel.open(socket);
      ManagedChannel channel = connection.channel();
      Metadata headers = new Metadata();
      headers.put(
          Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER), namespace);
      ClientInterceptor ns = MetadataUtils.newAttachHeadersInterceptor(headers);
      diff =
          DiffGrpc.newBlockingStub(channel)
              .withInterceptors(ns)
              .withDeadlineAfter(2, TimeUnit.MINUTES);
      snapshots =
          SnapshotsGrpc.newBlockingStub(channel)
              .withInterceptors(ns)
              .withDeadlineAfter(2, TimeUnit.MINUTES);
    }

    /** An active snapshot {@code key} of nothing on {@code snapshotter}: its mounts. */
    /**
     * An active snapshot that containerd's garbage collector keeps (labelled a root: it holds no
     * lease, and a collection an earlier test's image removal scheduled would otherwise take it).
     */
    List<MountProto.Mount> prepare(String snapshotter, String key) {
      return snapshots
          .prepare(
              SnapshotsProto.PrepareSnapshotRequest.newBuilder()
                  .setSnapshotter(snapshotter)
                  .setKey(key)
                  .putLabels(GC_ROOT, "layerd-test")
                  .build())
          .getMountsList();
    }

    /** A read-only view of the committed {@code parent}, kept as {@link #prepare}'s are. */
    void view(String snapshotter, String key, String parent) {
      snapshots.view(
          SnapshotsProto.ViewSnapshotRequest.newBuilder()
              .setSnapshotter(snapshotter)
              .setKey(key)
              .setParent(parent)
              .putLabels(GC_ROOT, "layerd-test")
              .build());
    }

    @Override
    public void close() {
      connection.close();
    }
  }

  /** An image's two layers in the clear (gzip), the second changing the first. */
  static List<OciArchive.Layer> layers(String tag) throws IOException {
    TarBuilder base =
        TarBuilder.create()
            .dir("etc")
            .file("etc/base", tag + " base\n")
            .file("etc/gone", "removed by the next layer\n")
            .dir("opt")
            .file("opt/old", "old\n");
    TarBuilder secret =
        TarBuilder.create()
            .dir("etc")
            .file("etc/secret", tag + " secret\n")
            .whiteout("etc/gone")
            .opaque("opt")
            .file("opt/new", new byte[300_000])
            .symlink("etc/link", "secret");
    String gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    return List.of(
        new OciArchive.Layer(gzip, base.gzip(), base.build()),
        new OciArchive.Layer(gzip, secret.gzip(), secret.build()));
  }

  /** The diffIDs of the layers layerd's pipeline applied (the engine records them). */
  static List<String> pipelineApplied(Daemon layerd) {
    List<String> applied = new ArrayList<>();
    for (var m : layerd.engine().store().all()) {
      if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX) && m.diffId() != null) {
        applied.add(m.diffId());
      }
    }
    return applied;
  }

  static String digest(byte[] blob) {
    return "sha256:" + DockerTestImage.sha256(blob);
  }

  private static String read(Path root, String file) throws IOException {
    return Files.readString(root.resolve(file));
  }

  /** Where an image is imported a second time. */
  private static final String OTHER_NAMESPACE = "layerd-test-again";

  /** The zstd OCI archive (an arm64 image, named by the test: its index names nothing). */
  private static final String ZSTD = "docker.io/library/dive-test-zstd:latest";

  /**
   * Imports, runs, compares with {@code reference}'s trees, and has containerd collect every layer.
   * With {@code today}: containerd 2.1's steps too, the zstd archive and an import into a second
   * namespace (containerd 1.6's ctr import unpacks without containerd.io/snapshot.ref).
   */
  @SuppressWarnings("try") // closeLast only unmounts the btrfs, after the daemon stopped
  private static void importRunCompareCollect(
      String driver, RigStarter starter, String reference, boolean today) throws Exception {
    List<String> more = today ? List.of(ZSTD) : List.of();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    Path snapSocket = dir.resolve("snap.sock");
    // btrfs: the data-root on a loop-mounted btrfs
    LoopBtrfs btrfs = driver.equals("btrfs") ? LoopBtrfs.create(false, null) : null;
    Path dataRoot = btrfs != null ? btrfs.mountPoint().resolve("layerd") : dir.resolve("layerd");
    // containerd's root and socket as the rig makes them: layerd's differ reads and writes there,
    // its layers no larger than the walking differ's (the docker suites run the default, fast)
    Settings settings =
        Settings.of(dataRoot, dir.resolve("gd.sock"), driver)
            .withContainerdSocket(snapSocket)
            .withContainerd(dir.resolve("c/root"), dir.resolve("c/containerd.sock"))
            .withDiffCompression(DiffCompression.SMALL);
    try (LoopBtrfs closeLast = btrfs;
        Daemon layerd = Daemon.start(settings);
        ContainerdRig rig = starter.start(dir.resolve("c"), snapSocket, dataRoot)) {
      assertTrue(rig.ok("plugins", "ls").out().contains("layerd"), "containerd lists the proxy");
      List<String> images = new ArrayList<>(IMAGES);
      images.addAll(more);
      String zstdChain = null;
      for (String snapshotter : List.of("layerd", reference)) {
        rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), snapshotter);
        rig.importImage(TestData.file("images/ggcr-whiteout-docker-save.tar"), snapshotter);
        rig.importImage(TestData.file("images/dive-test-docker-image.tar"), snapshotter);
        if (more.contains(ZSTD)) {
          Path named = dir.resolve("zstd.tar");
          zstdChain =
              OciArchive.named(TestData.file("images/dive-test-oci-zstd-image.tar"), ZSTD, named);
          rig.ok(
              "images",
              "import",
              "--platform",
              "linux/arm64",
              "--snapshotter",
              snapshotter,
              named.toString());
        }
      }
      if (today) {
        // Every image layer was applied by layerd's differ: the engine recorded its diffID.
        List<String> applied = pipelineApplied(layerd);
        String committed = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out();
        long count = committed.lines().filter(l -> l.contains("Committed")).count();
        assertEquals(count, applied.size(), "layers applied by layerd:\n" + committed);
        assertDiffsAgree(rig, dir, reference);
      }
      if (today) {
        anEncryptedLayerWithoutItsProcessorFailsAsContainerdSays(rig, layerd, dir, reference);
      }
      if (today) {
        // An import into another namespace finds every layer committed
        // (containerd.io/snapshot.ref): layerd makes no layer, containerd applies nothing.
        int layers = snapshotLayers(layerd).size();
        rig.okIn(
            OTHER_NAMESPACE,
            "images",
            "import",
            "--snapshotter",
            "layerd",
            TestData.file("images/dive-test-docker-image.tar").toString());
        assertEquals(layers, snapshotLayers(layerd).size(), "a re-import applies nothing");
      }

      String out =
          rig.run(
              BUSYBOX, "layerd", "run-" + driver, "sh", "-c", "echo hello; echo x > /f; cat /f");
      assertEquals("hello\nx\n", out);

      int n = 0;
      for (String image : images) {
        // An arm64 image cannot be a container here: its tree is a view of its top snapshot.
        String view = image.equals(ZSTD) ? zstdChain : null;
        TreeManifest ours = tree(rig, image, view, "layerd", "ours" + n, dir.resolve("m" + n));
        TreeManifest theirs = tree(rig, image, view, reference, "theirs" + n, dir.resolve("n" + n));
        TreeManifest.assertSame(theirs, ours);
        n++;
      }

      // containerd's garbage collection removes the snapshots, and layerd the layers
      for (String id : rig.ok("containers", "ls", "-q").out().strip().split("\\s+")) {
        if (!id.isEmpty()) {
          rig.ok("containers", "rm", id);
        }
      }
      for (String image : rig.images()) {
        rig.ok("images", "rm", "--sync", image);
      }
      if (today) {
        rig.okIn(OTHER_NAMESPACE, "images", "rm", "--sync", "docker.io/library/dive-test:latest");
      }
      long deadline = System.nanoTime() + 30_000_000_000L;
      List<String> left;
      while (true) {
        left = snapshotLayers(layerd);
        String listed = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out().strip();
        if (left.isEmpty() && listed.lines().count() <= 1) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError("layers left after the images went: " + left + "\n" + listed);
        }
        Thread.sleep(200);
      }
    } finally {
      ContainerdRig.unmountUnder(dir);
      deleteTree(dir);
    }
  }

  /**
   * Without its stream processor: on the generated config alone, an encrypted layer's processor is
   * the one containerd 2.x configures by default, ocicrypt's {@code ctd-decoder}, which is not
   * installed here. The layer fails as it fails on {@code reference} with the walking differ alone
   * ("failed to get stream processor for ...: exec: "ctd-decoder": executable file not found"):
   * layerd hands it to containerd's diff service and passes on the walking differ's error, which
   * ctr prints. containerd removes its extraction snapshot, and layerd keeps no layer of it.
   */
  private static void anEncryptedLayerWithoutItsProcessorFailsAsContainerdSays(
      ContainerdRig rig, Daemon layerd, Path dir, String reference) throws Exception {
    OciArchive.Layer clear = layers("unconfigured").get(1);
    OciArchive.Layer encrypted =
        new OciArchive.Layer(
            DecryptingProcessor.ENCRYPTED,
            DecryptingProcessor.encrypt(
                clear.blob(), DecryptingProcessor.keyOf("a key".getBytes(StandardCharsets.UTF_8))),
            clear.tar());
    Path archive = dir.resolve("unconfigured.tar");
    String name = "docker.io/library/layerd-unconfigured:1";
    OciArchive.image(name, List.of(encrypted), archive);
    List<String> layers = snapshotLayers(layerd);
    String snapshots = rig.ok("snapshots", "--snapshotter", "layerd", "ls").out();
    ContainerdRig.Result ours;
    try (StderrLog log = new StderrLog()) {
      ours = rig.ctr("images", "import", "--snapshotter", "layerd", archive.toString());
      assertTrue(ours.code() != 0, "the import failed: " + ours);
      // layerd's log: the hand-over and containerd's answer, which ctr prints as it is
      List<String> lines = log.lines("apply " + digest(encrypted.blob()) + ":");
      String answered =
          lines.stream()
              .filter(l -> l.contains("handed to containerd's diff service"))
              .map(l -> l.replaceFirst(".*, which answered [A-Z_]+: ", ""))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no hand-over in " + lines));
      assertTrue(ours.err().contains(answered), answered + " in " + ours.err());
      assertTrue(lines.stream().noneMatch(l -> l.contains("pipeline into")), lines.toString());
    }
    ContainerdRig.Result theirs =
        rig.ctr("images", "import", "--snapshotter", reference, archive.toString());
    assertTrue(theirs.code() != 0, "the import failed on " + reference + ": " + theirs);
    assertEquals(
        theirs.err().strip().replaceFirst("(?s).*: ", ""),
        ours.err().strip().replaceFirst("(?s).*: ", ""),
        "the walking differ's error:\n" + ours.err() + "\n" + theirs.err());
    // containerd removed its extraction snapshot (its record at once, layerd's layer at its next
    // garbage collection, which removing the image runs now)
    assertEquals(snapshots, rig.ok("snapshots", "--snapshotter", "layerd", "ls").out());
    if (!rig.images().contains(name)) {
      rig.ok("images", "import", "--no-unpack", archive.toString());
    }
    rig.ok("images", "rm", "--sync", name);
    assertEquals(layers, snapshotLayers(layerd), "layerd kept no layer of it");
  }

  /** The image's tree as containerd mounts it (see {@link #mounted}). */
  private static TreeManifest tree(
      ContainerdRig rig, String image, String view, String snapshotter, String id, Path target)
      throws IOException, InterruptedException {
    // Directory mtimes aside: containerd's native snapshotter copies the parent's tree for a
    // container and sets a directory's times before filling it, so its directories show the
    // copy's time; layerd's keep the image's.
    return mounted(
        rig,
        image,
        view,
        snapshotter,
        id,
        target,
        t ->
            TreeManifest.of(
                t,
                TreeManifest.Options.builder()
                    .ignoreRootAttributes()
                    .ignoreDirectoryMtimes()
                    .build()));
  }

  /** What is read from a mounted tree. */
  private interface MountedReader<T> {
    T read(Path root) throws IOException;
  }

  /**
   * {@code reader}'s result on the tree containerd mounts: a container's snapshot of {@code image}
   * prepared with {@code ctr containers create} (or a view of the committed snapshot {@code view},
   * when not null), mounted with the mount command {@code ctr snapshots mounts} prints.
   */
  private static <T> T mounted(
      ContainerdRig rig,
      String image,
      String view,
      String snapshotter,
      String id,
      Path target,
      MountedReader<T> reader)
      throws IOException, InterruptedException {
    if (view == null) {
      rig.ok("containers", "create", "--snapshotter", snapshotter, image, id);
    } else {
      try (ContainerdApi api = new ContainerdApi(rig.socket(), ContainerdRig.NAMESPACE)) {
        api.view(snapshotter, id, view);
      }
    }
    try {
      return mountedSnapshot(rig, snapshotter, id, target, reader);
    } finally {
      if (view != null) {
        rig.ok("snapshots", "--snapshotter", snapshotter, "rm", id);
      }
    }
  }

  /**
   * {@code reader}'s result on the snapshot {@code key}, mounted at {@code target} with the mount
   * command {@code ctr snapshots mounts} prints.
   */
  private static <T> T mountedSnapshot(
      ContainerdRig rig, String snapshotter, String key, Path target, MountedReader<T> reader)
      throws IOException, InterruptedException {
    Files.createDirectories(target);
    String cmd =
        rig.ok("snapshots", "--snapshotter", snapshotter, "mounts", target.toString(), key)
            .out()
            .strip();
    List<String> argv = new ArrayList<>(List.of(cmd.split(" ")));
    assertEquals("mount", argv.get(0), cmd);
    // "mount -t TYPE SOURCE TARGET -o OPTIONS"; a FUSE type ("fuse3.HELPER") is mounted the way
    // containerd's mount.fuse3 does it: the helper itself, given the options and the target.
    if (argv.size() == 7 && argv.get(2).startsWith("fuse3.")) {
      argv = List.of(argv.get(2).substring("fuse3.".length()), "-o", argv.get(6), argv.get(4));
    }
    run(argv);
    try {
      return reader.read(target);
    } finally {
      run(List.of("umount", target.toString()));
    }
  }

  /**
   * The same changes made in a container snapshot of busybox on layerd and on the reference, then
   * {@code ctr snapshots diff} (containerd's diff service: layerd's differ first for layerd's
   * snapshots, the walking differ for the reference's): both layers hold the same tree, layerd's in
   * containerd's content store under layerd's lease with the {@code containerd.io/uncompressed}
   * label, and layerd's, written with {@code --diff-compression small}, is no larger than the
   * walking differ's (Go's gzip level 6; the changes hold a copy of BusyBox's binary, so that the
   * codecs and not the tar headers make the difference).
   */
  private static void assertDiffsAgree(ContainerdRig rig, Path dir, String reference)
      throws Exception {
    List<TreeManifest> trees = new ArrayList<>();
    for (String snapshotter : List.of("layerd", reference)) {
      String id = "diff-" + snapshotter;
      rig.ok("containers", "create", "--snapshotter", snapshotter, BUSYBOX, id);
      Path target = Files.createDirectories(dir.resolve("dm-" + snapshotter));
      String cmd =
          rig.ok("snapshots", "--snapshotter", snapshotter, "mounts", target.toString(), id)
              .out()
              .strip();
      run(List.of(cmd.split(" ")));
      try {
        Files.writeString(target.resolve("etc/hostname"), "changed\n");
        Files.createDirectories(target.resolve("srv/new"));
        Files.writeString(target.resolve("srv/new/file"), "new file\n");
        Files.copy(target.resolve("bin/busybox"), target.resolve("srv/new/busybox"));
        run(List.of("rm", "-rf", target.resolve("bin/wget").toString()));
        run(List.of("chmod", "0700", target.resolve("tmp").toString()));
      } finally {
        run(List.of("umount", target.toString()));
      }
      Path layer = dir.resolve("diff-" + snapshotter + ".tar.gz");
      rig.okTo(layer, "snapshots", "--snapshotter", snapshotter, "diff", "--keep", id);
      Path x = Files.createDirectories(dir.resolve("dx-" + snapshotter));
      run(List.of("tar", "--numeric-owner", "-xpzf", layer.toString(), "-C", x.toString()));
      trees.add(
          TreeManifest.of(
              x, TreeManifest.Options.builder().ignoreRootAttributes().ignoreMtimes().build()));
    }
    TreeManifest.assertSame(trees.get(1), trees.get(0));
    long ours = Files.size(dir.resolve("diff-layerd.tar.gz"));
    long walking = Files.size(dir.resolve("diff-" + reference + ".tar.gz"));
    assertTrue(
        ours <= walking && ours > walking / 2,
        "layerd's layer (--diff-compression small): "
            + ours
            + " bytes, the walking differ's: "
            + walking);
    System.out.printf(
        "ctr snapshots diff: layerd's layer (--diff-compression small) %d bytes, the walking"
            + " differ's %d%n",
        ours, walking);
    String leases = rig.ok("leases", "ls").out();
    assertTrue(leases.contains("layerd-diff-"), "layerd's differ wrote the layer:\n" + leases);
    String content = rig.ok("content", "ls").out();
    assertTrue(content.contains("containerd.io/uncompressed="), content);
  }

  static List<String> snapshotLayers(Daemon layerd) {
    List<String> out = new ArrayList<>();
    for (var m : layerd.engine().store().all()) {
      if (m.id().startsWith(SnapshotterServerAccess.LAYER_PREFIX)) {
        out.add(m.id());
      }
    }
    return out;
  }

  private static void run(List<String> argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", argv) + ": " + out);
  }

  private static void deleteTree(Path dir) throws IOException, InterruptedException {
    if (Files.exists(dir)) {
      run(List.of("rm", "-rf", "--one-file-system", dir.toString()));
    }
  }
}
