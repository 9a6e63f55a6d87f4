package io.layerd.daemon.containerd;

import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A plain-text gRPC server on a unix socket, with its own event loop: where the tests' fakes of
 * containerd's services listen ({@link UnixGrpcChannel} is the client side).
 */
final class UnixGrpcServer implements AutoCloseable {
  private final EventLoopGroup group = new EpollEventLoopGroup(1);
  private final Server server;

  /** Serves these services on {@code socket} until closed. */
  UnixGrpcServer(Path socket, ServerServiceDefinition... services) throws IOException {
    NettyServerBuilder b =
        NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(group)
            .workerEventLoopGroup(group);
    for (ServerServiceDefinition s : services) {
      b.addService(s);
    }
    try {
      server = b.build().start();
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
      throw e;
    }
  }

  /** Shuts the server and its event loop down, and waits (5 s at most each) until they are. */
  @Override
  public void close() {
    server.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }
}
