package io.layerd.daemon.containerd;

import com.google.protobuf.ByteString;
import com.google.protobuf.FieldMask;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.layerd.daemon.containerd.proto.ContentGrpc;
import io.layerd.daemon.containerd.proto.ContentProto;
import io.layerd.daemon.containerd.proto.DiffGrpc;
import io.layerd.daemon.containerd.proto.DiffProto;
import io.layerd.daemon.containerd.proto.LeasesGrpc;
import io.layerd.daemon.containerd.proto.LeasesProto;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * layerd as a client of containerd's own socket: the content service (where the differ writes the
 * layers it makes, and reads a layer to apply that is not in the blob directory), the lease service
 * (what keeps them from containerd's garbage collector) and the diff service (which the differ
 * hands an Apply it cannot serve itself, for containerd's own differ to serve). Every call names
 * its containerd namespace in the {@code containerd-namespace} header, as containerd's own clients
 * do, and a write names its lease in {@code containerd-lease}.
 */
final class ContainerdClient implements Closeable {
  /** containerd's label: a lease past this RFC 3339 time is no longer a GC root. */
  static final String GC_EXPIRE = "containerd.io/gc.expire";

  private static final Metadata.Key<String> NAMESPACE =
      Metadata.Key.of("containerd-namespace", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> LEASE =
      Metadata.Key.of("containerd-lease", Metadata.ASCII_STRING_MARSHALLER);

  /** Bytes per WRITE message (containerd's own clients send 1 MiB). */
  private static final int CHUNK = 1 << 20;

  private final Path address;
  private final EventLoopGroup group;
  private final ManagedChannel channel;

  private ContainerdClient(Path address, EventLoopGroup group, ManagedChannel channel) {
    this.address = address;
    this.group = group;
    this.channel = channel;
  }

  /** A client of containerd's socket; it connects at the first call. */
  static ContainerdClient of(Path address) {
    EventLoopGroup group = new EpollEventLoopGroup(1);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(address.toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .usePlaintext()
            .build();
    return new ContainerdClient(address, group, channel);
  }

  Path address() {
    return address;
  }

  /** The gRPC channel to the socket. */
  ManagedChannel channel() {
    return channel;
  }

  private static Metadata headers(String namespace, String lease) {
    Metadata m = new Metadata();
    m.put(NAMESPACE, namespace);
    if (lease != null) {
      m.put(LEASE, lease);
    }
    return m;
  }

  private ContentGrpc.ContentBlockingStub content(String namespace) {
    return ContentGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(namespace, null)));
  }

  /**
   * Makes a lease in {@code namespace} that containerd's garbage collector honours until {@code
   * ttl} from now, and then drops (containerd's {@code containerd.io/gc.expire} label).
   */
  String createLease(String namespace, Duration ttl) throws IOException {
    String id =
        "layerd-diff-"
            + Long.toHexString(System.currentTimeMillis())
            + "-"
            + Integer.toHexString(ThreadLocalRandom.current().nextInt() & 0xffffff);
    String expire = Instant.now().plus(ttl).truncatedTo(ChronoUnit.SECONDS).toString();
    try {
      LeasesGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(namespace, null)))
          .create(
              LeasesProto.CreateRequest.newBuilder()
                  .setId(id)
                  .putLabels(GC_EXPIRE, expire)
                  .build());
    } catch (StatusRuntimeException e) {
      throw failure("cannot make a lease in namespace " + namespace, e);
    }
    return id;
  }

  /** Deletes a lease (best effort: an expiring lease goes by itself). */
  void deleteLease(String namespace, String id) {
    try {
      LeasesGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(namespace, null)))
          .delete(LeasesProto.DeleteRequest.newBuilder().setId(id).build());
    } catch (StatusRuntimeException e) {
      // it expires
    }
  }

  /** The content's labels, or null when containerd has no such content in the namespace. */
  Map<String, String> labels(String namespace, String digest) throws IOException {
    try {
      return content(namespace)
          .info(ContentProto.InfoRequest.newBuilder().setDigest(digest).build())
          .getInfo()
          .getLabelsMap();
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return null;
      }
      throw failure("cannot read the content info of " + digest, e);
    }
  }

  /**
   * The blob {@code digest} of the namespace, read through the content service as a stream (its
   * pieces as containerd sends them; closing it early cancels the read). A blob containerd does not
   * have fails with NoSuchFileException at the first read.
   */
  InputStream read(String namespace, String digest) {
    io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
    Iterator<ContentProto.ReadContentResponse> pieces;
    io.grpc.Context previous = call.attach();
    try {
      pieces =
          content(namespace)
              .read(ContentProto.ReadContentRequest.newBuilder().setDigest(digest).build());
    } finally {
      call.detach(previous);
    }
    return new InputStream() {
      private ByteString piece = ByteString.EMPTY;
      private int at;

      private boolean more() throws IOException {
        while (at == piece.size()) {
          try {
            if (!pieces.hasNext()) {
              return false;
            }
            piece = pieces.next().getData();
          } catch (StatusRuntimeException e) {
            if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
              throw new java.nio.file.NoSuchFileException(
                  digest, null, "containerd has no such content in namespace " + namespace);
            }
            throw failure("cannot read " + digest + " in namespace " + namespace, e);
          }
          at = 0;
        }
        return true;
      }

      @Override
      public int read() throws IOException {
        return more() ? piece.byteAt(at++) & 0xff : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        if (!more()) {
          return -1;
        }
        int n = Math.min(len, piece.size() - at);
        piece.substring(at, at + n).copyTo(b, off);
        at += n;
        return n;
      }

      @Override
      public void close() {
        call.cancel(null);
      }
    };
  }

  /**
   * Hands an Apply to containerd's own diff service in {@code namespace}: its differs in their
   * configured order, the walking differ among them. Its answer, or its failure as a
   * StatusRuntimeException, is containerd's own.
   */
  DiffProto.ApplyResponse apply(String namespace, DiffProto.ApplyRequest req) {
    return DiffGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(namespace, null)))
        .apply(req);
  }

  /** Sets one label of content already in the namespace. */
  void setLabel(String namespace, String digest, String label, String value) throws IOException {
    try {
      content(namespace)
          .update(
              ContentProto.UpdateRequest.newBuilder()
                  .setInfo(ContentProto.Info.newBuilder().setDigest(digest).putLabels(label, value))
                  .setUpdateMask(FieldMask.newBuilder().addPaths("labels." + label))
                  .build());
    } catch (StatusRuntimeException e) {
      throw failure("cannot label " + digest, e);
    }
  }

  /** Drops an unfinished ingest (best effort: containerd also expires ingests itself). */
  void abort(String namespace, String ref) {
    try {
      content(namespace).abort(ContentProto.AbortRequest.newBuilder().setRef(ref).build());
    } catch (StatusRuntimeException e) {
      // nothing was left, or containerd cleans it up
    }
  }

  /** Starts writing content under ingest reference {@code ref}, held by {@code lease}. */
  Upload upload(String namespace, String lease, String ref) {
    return new Upload(namespace, lease, ref);
  }

  /**
   * One content ingest as an output stream: bytes go to containerd in 1 MiB WRITE messages (with
   * gRPC's flow control), {@link #commit} ends it. Closing without a commit cancels the ingest.
   */
  final class Upload extends OutputStream {
    private final String namespace;
    private final String ref;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition ready = lock.newCondition();
    private final CountDownLatch done = new CountDownLatch(1);
    private final byte[] buf = new byte[CHUNK];
    private final ClientCallStreamObserver<ContentProto.WriteContentRequest> requests;
    private int n;
    private long offset;
    private volatile Throwable error;
    private volatile String committedDigest;
    private boolean finished;

    Upload(String namespace, String lease, String ref) {
      this.namespace = namespace;
      this.ref = ref;
      Responses responses = new Responses();
      ContentGrpc.newStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(namespace, lease)))
          .write(responses);
      this.requests = responses.requests;
    }

    private final class Responses
        implements ClientResponseObserver<
            ContentProto.WriteContentRequest, ContentProto.WriteContentResponse> {
      ClientCallStreamObserver<ContentProto.WriteContentRequest> requests;

      @Override
      public void beforeStart(ClientCallStreamObserver<ContentProto.WriteContentRequest> r) {
        this.requests = r;
        r.setOnReadyHandler(Upload.this::signal);
      }

      @Override
      public void onNext(ContentProto.WriteContentResponse value) {
        if (value.getAction() == ContentProto.WriteAction.COMMIT) {
          committedDigest = value.getDigest();
        }
      }

      @Override
      public void onError(Throwable t) {
        error = t;
        done.countDown();
        signal();
      }

      @Override
      public void onCompleted() {
        done.countDown();
        signal();
      }
    }

    private void signal() {
      lock.lock();
      try {
        ready.signalAll();
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void write(int b) throws IOException {
      if (n == buf.length) {
        send(false);
      }
      buf[n++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        if (n == buf.length) {
          send(false);
        }
        int k = Math.min(len, buf.length - n);
        System.arraycopy(b, off, buf, n, k);
        n += k;
        off += k;
        len -= k;
      }
    }

    /** Sends what is buffered: a WRITE message, or the COMMIT with {@code labels}. */
    private void send(boolean commit, Map<String, String> labels) throws IOException {
      awaitReady();
      ContentProto.WriteContentRequest.Builder m =
          ContentProto.WriteContentRequest.newBuilder()
              .setAction(commit ? ContentProto.WriteAction.COMMIT : ContentProto.WriteAction.WRITE)
              .setRef(ref)
              .setOffset(offset)
              .setData(ByteString.copyFrom(buf, 0, n));
      if (commit) {
        // No expected digest: containerd computes it, and content that exists already is then
        // added to the lease (an expected digest that exists would be refused before that).
        m.setTotal(offset + n).putAllLabels(labels);
      }
      requests.onNext(m.build());
      offset += n;
      n = 0;
    }

    private void send(boolean commit) throws IOException {
      send(commit, Map.of());
    }

    private void awaitReady() throws IOException {
      lock.lock();
      try {
        while (!requests.isReady()) {
          if (error != null || done.getCount() == 0) {
            throw failure("containerd ended the write of " + ref, error);
          }
          if (!ready.await(30, TimeUnit.SECONDS)) {
            throw new IOException(
                "containerd at " + address + " took no content for 30 s while writing " + ref);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while writing " + ref);
      } finally {
        lock.unlock();
      }
      if (error != null) {
        throw failure("containerd ended the write of " + ref, error);
      }
    }

    /**
     * Commits what was written with {@code labels}. {@code digest} is what layerd computed: true
     * when containerd stored it now, false when it had that content already (it is then held by
     * this upload's lease all the same).
     */
    boolean commit(String digest, Map<String, String> labels) throws IOException {
      send(true, labels);
      finished = true;
      requests.onCompleted();
      try {
        if (!done.await(10, TimeUnit.MINUTES)) {
          throw new IOException("containerd at " + address + " did not commit " + ref);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while committing " + ref);
      }
      Throwable t = error;
      if (t != null) {
        if (Status.fromThrowable(t).getCode() == Status.Code.ALREADY_EXISTS) {
          return false;
        }
        throw failure("containerd refused the content of " + ref, t);
      }
      if (committedDigest != null && !committedDigest.equals(digest)) {
        throw new IOException(
            "containerd stored " + committedDigest + " where layerd wrote " + digest);
      }
      return true;
    }

    long size() {
      return offset + n;
    }

    /** Cancels the ingest unless it was committed. */
    @Override
    public void close() {
      if (!finished) {
        finished = true;
        requests.cancel("layerd's diff failed", null);
        abort(namespace, ref);
      }
    }
  }

  private IOException failure(String what, Throwable t) {
    if (t == null) {
      return new IOException(what + " (containerd at " + address + ")");
    }
    Status s = Status.fromThrowable(t);
    return new IOException(
        what + " (containerd at " + address + "): " + s.getCode() + " " + s.getDescription(), t);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }
}
