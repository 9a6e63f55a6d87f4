package io.layerd.daemon.containerd;

import io.grpc.ManagedChannel;
import java.nio.file.Path;

/**
 * A plain-text gRPC channel to a unix socket (layerd's, or containerd's), with its own event loop,
 * as layerd's {@link ContainerdClient} makes it: what the tests' clients of either speak through.
 * It connects at the first call.
 */
public final class UnixGrpcChannel implements AutoCloseable {
  private final ContainerdClient client;

  private UnixGrpcChannel(ContainerdClient client) {
    this.client = client;
  }

  /** A channel to {@code socket}. */
  public static UnixGrpcChannel open(Path socket) {
    return new UnixGrpcChannel(ContainerdClient.of(socket));
  }

  public ManagedChannel channel() {
    return client.channel();
  }

  /** Shuts the channel and its event loop down, and waits (5 s at most each) until they are. */
  @Override
  public void close() {
    client.close();
  }
}
