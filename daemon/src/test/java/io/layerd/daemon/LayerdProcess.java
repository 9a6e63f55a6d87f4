package io.layerd.daemon;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** layerd in a child JVM (this JVM's class path), as the process tests and harnesses run it. */
final class LayerdProcess {
  private LayerdProcess() {}

  /**
   * Starts {@code layerd --data-root ROOT --socket SOCKET --driver DRIVER --rootless=false}, with
   * {@code --containerd-socket GRPC} unless {@code grpc} is null, and any {@code extra} flags,
   * logging to {@code log}; returns once every socket accepts connections (a stale socket of a
   * killed layerd does not count).
   */
  static Process start(Path root, Path socket, Path grpc, String driver, Path log, String... extra)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(Main.selfCommand());
    cmd.addAll(
        List.of(
            "--data-root",
            root.toString(),
            "--socket",
            socket.toString(),
            "--driver",
            driver,
            "--rootless=false"));
    if (grpc != null) {
      cmd.addAll(List.of("--containerd-socket", grpc.toString()));
    }
    cmd.addAll(List.of(extra));
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!listening(socket) || (grpc != null && !listening(grpc))) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new AssertionError(
            "layerd did not listen on " + socket + ":\n" + Files.readString(log));
      }
      Thread.sleep(20);
    }
    return p;
  }

  private static boolean listening(Path socket) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
