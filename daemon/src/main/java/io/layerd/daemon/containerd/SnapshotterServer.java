package io.layerd.daemon.containerd;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.layerd.engine.Engine;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
 */
public final class SnapshotterServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotterServer.class);

  private final Server server;
  private final EventLoopGroup group;
  private final Path socket;

  private SnapshotterServer(Server server, EventLoopGroup group, Path socket) {
    this.server = server;
    this.group = group;
    this.socket = socket;
  }

  /** Serves {@code engine}'s layers to containerd on {@code socket}. */
  public static SnapshotterServer start(Engine engine, Path socket) throws IOException {
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
    EventLoopGroup group = new EpollEventLoopGroup(2);
    Server server;
    try {
      server =
          NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
              .channelType(EpollServerDomainSocketChannel.class)
              .bossEventLoopGroup(group)
              .workerEventLoopGroup(group)
              .addService(new SnapshotService(snapshotter))
              .build()
              .start();
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException | RuntimeException e) {
      Future<?> unused = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot serve containerd on " + socket + ": " + e.getMessage(), e);
    }
    LOG.info("serving containerd's snapshotter API on {}", socket);
    return new SnapshotterServer(server, group, socket);
  }

  public Path socket() {
    return socket;
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
      Future<?> unused = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Files.deleteIfExists(socket);
    }
  }
}
