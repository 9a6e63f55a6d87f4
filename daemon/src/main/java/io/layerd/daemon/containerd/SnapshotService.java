package io.layerd.daemon.containerd;

import com.google.protobuf.Empty;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.layerd.daemon.containerd.proto.MountProto;
import io.layerd.daemon.containerd.proto.SnapshotsGrpc;
import io.layerd.daemon.containerd.proto.SnapshotsProto;
import io.layerd.engine.spi.Mount;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * containerd.services.snapshots.v1.Snapshots over {@link Snapshotter}: requests in, refusals out as
 * the gRPC status codes containerd turns back into its errdefs (NotFound, AlreadyExists,
 * FailedPrecondition, InvalidArgument); any other failure is Internal, with its message.
 */
final class SnapshotService extends SnapshotsGrpc.SnapshotsImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotService.class);

  /** How many snapshots one List message carries. */
  private static final int LIST_BATCH = 100;

  private final Snapshotter snapshotter;

  SnapshotService(Snapshotter snapshotter) {
    this.snapshotter = snapshotter;
  }

  @FunctionalInterface
  private interface Call<T> {
    T run() throws SnapshotException, IOException;
  }

  private static <T> void answer(String what, StreamObserver<T> out, Call<T> call) {
    T reply;
    try {
      reply = call.run();
    } catch (SnapshotException e) {
      LOG.debug("{}: {}", what, e.getMessage());
      out.onError(Status.fromCode(e.code()).withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (IOException | RuntimeException e) {
      LOG.warn("{} failed: {}", what, e.toString());
      out.onError(
          Status.INTERNAL
              .withDescription(what + ": " + e.getMessage())
              .withCause(e)
              .asRuntimeException());
      return;
    }
    out.onNext(reply);
    out.onCompleted();
  }

  @Override
  public void prepare(
      SnapshotsProto.PrepareSnapshotRequest req,
      StreamObserver<SnapshotsProto.PrepareSnapshotResponse> out) {
    answer(
        "prepare " + req.getKey(),
        out,
        () ->
            SnapshotsProto.PrepareSnapshotResponse.newBuilder()
                .addAllMounts(
                    wire(snapshotter.prepare(req.getKey(), req.getParent(), req.getLabelsMap())))
                .build());
  }

  @Override
  public void view(
      SnapshotsProto.ViewSnapshotRequest req,
      StreamObserver<SnapshotsProto.ViewSnapshotResponse> out) {
    answer(
        "view " + req.getKey(),
        out,
        () ->
            SnapshotsProto.ViewSnapshotResponse.newBuilder()
                .addAllMounts(
                    wire(snapshotter.view(req.getKey(), req.getParent(), req.getLabelsMap())))
                .build());
  }

  @Override
  public void mounts(
      SnapshotsProto.MountsRequest req, StreamObserver<SnapshotsProto.MountsResponse> out) {
    answer(
        "mounts " + req.getKey(),
        out,
        () ->
            SnapshotsProto.MountsResponse.newBuilder()
                .addAllMounts(wire(snapshotter.mounts(req.getKey())))
                .build());
  }

  @Override
  public void commit(SnapshotsProto.CommitSnapshotRequest req, StreamObserver<Empty> out) {
    answer(
        "commit " + req.getKey() + " as " + req.getName(),
        out,
        () -> {
          snapshotter.commit(req.getName(), req.getKey(), req.getLabelsMap());
          return Empty.getDefaultInstance();
        });
  }

  @Override
  public void remove(SnapshotsProto.RemoveSnapshotRequest req, StreamObserver<Empty> out) {
    answer(
        "remove " + req.getKey(),
        out,
        () -> {
          snapshotter.remove(req.getKey());
          return Empty.getDefaultInstance();
        });
  }

  @Override
  public void stat(
      SnapshotsProto.StatSnapshotRequest req,
      StreamObserver<SnapshotsProto.StatSnapshotResponse> out) {
    answer(
        "stat " + req.getKey(),
        out,
        () ->
            SnapshotsProto.StatSnapshotResponse.newBuilder()
                .setInfo(info(snapshotter.stat(req.getKey())))
                .build());
  }

  @Override
  public void update(
      SnapshotsProto.UpdateSnapshotRequest req,
      StreamObserver<SnapshotsProto.UpdateSnapshotResponse> out) {
    answer(
        "update " + req.getInfo().getName(),
        out,
        () ->
            SnapshotsProto.UpdateSnapshotResponse.newBuilder()
                .setInfo(
                    info(
                        snapshotter.update(
                            req.getInfo().getName(),
                            req.getInfo().getLabelsMap(),
                            req.getUpdateMask().getPathsList())))
                .build());
  }

  @Override
  public void list(
      SnapshotsProto.ListSnapshotsRequest req,
      StreamObserver<SnapshotsProto.ListSnapshotsResponse> out) {
    // containerd filters what it shows its clients itself; a proxy answers with every snapshot.
    List<Snapshotter.Info> all = snapshotter.list();
    SnapshotsProto.ListSnapshotsResponse.Builder b =
        SnapshotsProto.ListSnapshotsResponse.newBuilder();
    for (Snapshotter.Info i : all) {
      b.addInfo(info(i));
      if (b.getInfoCount() >= LIST_BATCH) {
        out.onNext(b.build());
        b = SnapshotsProto.ListSnapshotsResponse.newBuilder();
      }
    }
    if (b.getInfoCount() > 0) {
      out.onNext(b.build());
    }
    out.onCompleted();
  }

  @Override
  public void usage(
      SnapshotsProto.UsageRequest req, StreamObserver<SnapshotsProto.UsageResponse> out) {
    answer(
        "usage " + req.getKey(),
        out,
        () -> {
          long[] u = snapshotter.usage(req.getKey());
          return SnapshotsProto.UsageResponse.newBuilder().setSize(u[0]).setInodes(u[1]).build();
        });
  }

  @Override
  public void cleanup(SnapshotsProto.CleanupRequest req, StreamObserver<Empty> out) {
    answer(
        "cleanup",
        out,
        () -> {
          int n = snapshotter.cleanup();
          if (n > 0) {
            LOG.info("cleanup: removed {} layers no snapshot named", n);
          }
          return Empty.getDefaultInstance();
        });
  }

  // ------------------------------------------------------------------ conversions

  static List<MountProto.Mount> wire(List<Mount> mounts) {
    return mounts.stream()
        .map(
            m ->
                MountProto.Mount.newBuilder()
                    .setType(m.type())
                    .setSource(m.source())
                    .addAllOptions(m.options())
                    .build())
        .toList();
  }

  static SnapshotsProto.Info info(Snapshotter.Info i) {
    SnapshotRecords.Rec r = i.rec();
    SnapshotsProto.Info.Builder b =
        SnapshotsProto.Info.newBuilder()
            .setName(i.name())
            .setKind(kind(r.kind()))
            .setCreatedAt(timestamp(r.createdNanos()))
            .setUpdatedAt(timestamp(r.updatedNanos()))
            .putAllLabels(r.labels());
    if (r.parent() != null) {
      b.setParent(r.parent());
    }
    return b.build();
  }

  private static SnapshotsProto.Kind kind(SnapshotRecords.Kind k) {
    switch (k) {
      case VIEW:
        return SnapshotsProto.Kind.VIEW;
      case ACTIVE:
        return SnapshotsProto.Kind.ACTIVE;
      case COMMITTED:
        return SnapshotsProto.Kind.COMMITTED;
      default:
        return SnapshotsProto.Kind.UNKNOWN;
    }
  }

  private static Timestamp timestamp(long nanos) {
    return Timestamp.newBuilder()
        .setSeconds(Math.floorDiv(nanos, 1_000_000_000L))
        .setNanos((int) Math.floorMod(nanos, 1_000_000_000L))
        .build();
  }
}
