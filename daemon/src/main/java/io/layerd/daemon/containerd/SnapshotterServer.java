package io.layerd.daemon.containerd;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.channel.unix.PeerCredentials;
import io.layerd.daemon.peer.PeerPolicy;
import io.layerd.engine.Engine;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * layerd as a containerd proxy snapshotter: containerd.services.snapshots.v1.Snapshots served by
 * gRPC on a unix socket (mode 0600). containerd's config names it:
 *
 * <pre>
 * [proxy_plugins]
 *   [proxy_plugins.layerd]
 *     type = "snapshot"
 *     address = "SOCKET"
 * </pre>
 *
 * and {@code ctr ... --snapshotter layerd} (or the CRI's {@code snapshotter = "layerd"}) uses it.
 * The same socket serves containerd.services.diff.v1.Diff ({@link DiffService}): containerd's
 * config names it again as a proxy plugin of type {@code diff}, first in the diff service's list.
 *
 * <p>Only layerd's own user and root are served ({@link PeerPolicy}): every accepted connection's
 * peer credentials are checked before gRPC sees it, and another user's connection is closed.
 */
public final class SnapshotterServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotterServer.class);

  private final Server server;
  private final EventLoopGroup group;
  private final Path socket;
  private final ContainerdClient client; // or null

  private SnapshotterServer(
      Server server, EventLoopGroup group, Path socket, ContainerdClient client) {
    this.server = server;
    this.group = group;
    this.socket = socket;
    this.client = client;
  }

  /** Serves {@code engine}'s layers to containerd on {@code socket}, as snapshotter only. */
  public static SnapshotterServer start(Engine engine, Path socket) throws IOException {
    return start(engine, socket, null, null);
  }

  /**
   * Serves {@code engine}'s layers to containerd on {@code socket}: the snapshotter, and the differ
   * (containerd.services.diff.v1.Diff), which reads layers from containerd's blob directory under
   * {@code containerdRoot} and writes the layers of commits through containerd's content service at
   * {@code containerdAddress} (either null: the differ declines what needs it).
   */
  public static SnapshotterServer start(
      Engine engine, Path socket, Path containerdRoot, Path containerdAddress) throws IOException {
    return start(engine, socket, containerdRoot, containerdAddress, DiffCompression.FAST);
  }

  /**
   * As {@link #start(Engine, Path, Path, Path)}, the differ compressing the layers it writes as
   * {@code compression} says.
   */
  public static SnapshotterServer start(
      Engine engine,
      Path socket,
      Path containerdRoot,
      Path containerdAddress,
      DiffCompression compression)
      throws IOException {
    if (!Epoll.isAvailable()) {
      throw new IOException(
          "cannot serve containerd on "
              + socket
              + ": gRPC's epoll transport is not available here ("
              + Epoll.unavailabilityCause()
              + ")");
    }
    Snapshotter snapshotter = Snapshotter.open(engine);
    Files.createDirectories(socket.toAbsolutePath().getParent());
    if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.readAttributes(
              socket, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
          .isOther()) {
        throw new IOException(socket + " exists and is not a socket: choose another path");
      }
      Files.delete(socket); // a stale socket of an earlier run (the data-root lock is ours)
    }
    // gRPC asks every accepted channel for SO_KEEPALIVE, which a unix socket has not; Netty warns
    // at each connection. The option is meaningless here: its warning is kept out of the log.
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.ServerBootstrap",
        "error");
    PeerPolicy peers = PeerPolicy.ofThisProcess();
    String name = socket.toString();
    EventLoopGroup group = new EpollEventLoopGroup(2);
    ContainerdClient client =
        containerdAddress == null ? null : ContainerdClient.of(containerdAddress);
    Server server;
    try {
      server =
          NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
              .channelFactory(
                  () -> {
                    EpollServerDomainSocketChannel listening = new EpollServerDomainSocketChannel();
                    listening.pipeline().addFirst(new PeerCheck(peers, name));
                    return listening;
                  })
              .bossEventLoopGroup(group)
              .workerEventLoopGroup(group)
              .addService(new SnapshotService(snapshotter))
              .addService(
                  new DiffService(engine, snapshotter, containerdRoot, client, compression)
                      .withCallerNamespace())
              .build()
              .start();
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException | RuntimeException e) {
      if (client != null) {
        client.close();
      }
      Future<?> unused = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot serve containerd on " + socket + ": " + e.getMessage(), e);
    }
    LOG.info(
        "serving containerd's snapshotter and diff APIs on {} (layers read from {}, written"
            + " through {}; {})",
        socket,
        containerdRoot == null ? "nowhere: Apply declines" : containerdRoot,
        containerdAddress == null ? "nothing: Diff declines" : containerdAddress,
        compression.describe());
    return new SnapshotterServer(server, group, socket, client);
  }

  /**
   * First on the listening channel's pipeline: sees each accepted channel before gRPC's acceptor
   * does, and closes those of peers the policy refuses.
   */
  private static final class PeerCheck extends ChannelInboundHandlerAdapter {
    private final PeerPolicy peers;
    private final String socket;

    PeerCheck(PeerPolicy peers, String socket) {
      this.peers = peers;
      this.socket = socket;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof EpollDomainSocketChannel accepted) {
        String refused;
        try {
          PeerCredentials c = accepted.peerCredentials();
          refused =
              peers.allows(Integer.toUnsignedLong(c.uid()))
                  ? null
                  : "uid " + Integer.toUnsignedLong(c.uid()) + " (pid " + c.pid() + ")";
        } catch (IOException e) {
          refused = "a peer whose credentials cannot be read (" + e + ")";
        }
        if (refused != null) {
          peers.refused(socket, refused);
          accepted.unsafe().closeForcibly();
          return;
        }
      }
      ctx.fireChannelRead(msg);
    }
  }

  public Path socket() {
    return socket;
  }

  /**
   * The capabilities layerd's snapshotter declares to containerd, which learns a proxy plugin's
   * only from its config ({@code capabilities = [...]}). {@code remap-ids}: snapshots prepared with
   * containerd's id-mapping labels have their files owned through the mapping (idmapped lower
   * layers where containerd can mount them, else a shifted copy; see {@link RemapMethod}), which
   * needs layerd to be root of its user namespace: real root, or root of rootlesskit's namespace or
   * of its own rootless one. Without it containerd's client would have to chown a copy itself.
   */
  public static List<String> capabilities(boolean rootInNamespace) {
    return RemapMethod.capabilities(rootInNamespace);
  }

  /** Stops accepting, lets calls in flight end (10 s at most), removes the socket. */
  @Override
  public void close() throws IOException {
    server.shutdown();
    try {
      if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      server.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      if (client != null) {
        client.close();
      }
      Future<?> unused = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Files.deleteIfExists(socket);
    }
  }
}
