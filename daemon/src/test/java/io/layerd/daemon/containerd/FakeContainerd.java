package io.layerd.daemon.containerd;

import com.google.protobuf.Empty;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.stub.StreamObserver;
import io.layerd.daemon.containerd.proto.ContentGrpc;
import io.layerd.daemon.containerd.proto.ContentProto;
import io.layerd.daemon.containerd.proto.LeasesGrpc;
import io.layerd.daemon.containerd.proto.LeasesProto;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * containerd's content and lease services as layerd's differ uses them, kept in memory: what was
 * written, in which namespace and under which lease ({@code containerd-namespace} and {@code
 * containerd-lease}, the headers containerd's own services read), and which leases were made.
 */
final class FakeContainerd implements AutoCloseable {
  /** One committed write. */
  record Write(
      String namespace, String lease, byte[] bytes, String digest, Map<String, String> labels) {}

  /** One lease made. */
  record Lease(String namespace, String id, Map<String, String> labels) {}

  final List<Write> writes = new CopyOnWriteArrayList<>();
  final List<Lease> leases = new CopyOnWriteArrayList<>();
  final Path socket;
  private final UnixGrpcServer server;

  private static final Context.Key<Metadata> HEADERS = Context.key("headers");
  private static final Metadata.Key<String> NAMESPACE =
      Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> LEASE =
      Metadata.Key.of("containerd-lease", Metadata.ASCII_STRING_MARSHALLER);

  FakeContainerd(Path socket) throws IOException {
    this.socket = socket;
    ServerInterceptor headers =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata md, ServerCallHandler<Q, R> next) {
            return Contexts.interceptCall(Context.current().withValue(HEADERS, md), call, md, next);
          }
        };
    server =
        new UnixGrpcServer(
            socket,
            ServerInterceptors.intercept(new Content(), headers),
            ServerInterceptors.intercept(new Leases(), headers));
  }

  private static String header(Metadata.Key<String> key) {
    return HEADERS.get().get(key);
  }

  private final class Content extends ContentGrpc.ContentImplBase {
    @Override
    public StreamObserver<ContentProto.WriteContentRequest> write(
        StreamObserver<ContentProto.WriteContentResponse> out) {
      String namespace = header(NAMESPACE);
      String lease = header(LEASE);
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      return new StreamObserver<>() {
        @Override
        public void onNext(ContentProto.WriteContentRequest m) {
          bytes.writeBytes(m.getData().toByteArray());
          if (m.getAction() == ContentProto.WriteAction.COMMIT) {
            byte[] b = bytes.toByteArray();
            String digest = sha256(b);
            writes.add(
                new Write(namespace, lease, b, digest, new LinkedHashMap<>(m.getLabelsMap())));
            out.onNext(
                ContentProto.WriteContentResponse.newBuilder()
                    .setAction(ContentProto.WriteAction.COMMIT)
                    .setDigest(digest)
                    .build());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }
  }

  private final class Leases extends LeasesGrpc.LeasesImplBase {
    @Override
    public void create(
        LeasesProto.CreateRequest req, StreamObserver<LeasesProto.CreateResponse> out) {
      leases.add(new Lease(header(NAMESPACE), req.getId(), req.getLabelsMap()));
      out.onNext(
          LeasesProto.CreateResponse.newBuilder()
              .setLease(LeasesProto.Lease.newBuilder().setId(req.getId()))
              .build());
      out.onCompleted();
    }

    @Override
    public void delete(LeasesProto.DeleteRequest req, StreamObserver<Empty> out) {
      leases.removeIf(l -> l.id().equals(req.getId()));
      out.onNext(Empty.getDefaultInstance());
      out.onCompleted();
    }
  }

  static String sha256(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    server.close();
  }
}
