package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.layerd.daemon.containerd.proto.SnapshotsGrpc;
import io.layerd.daemon.containerd.proto.SnapshotsProto;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Load: a layerd process on overlay2 with clients on both APIs at once (graph-driver clients that
 * create, apply, get, put and remove layers as dockerd does; snapshotter clients that prepare,
 * commit, view and remove snapshots as containerd does) for a bounded time. No call fails; once the
 * clients are gone layerd's descriptors and mounts are back where they started; its peak RSS is
 * bounded and reported. {@code -Dlayerd.load.seconds} and {@code -Dlayerd.load.clients} set the
 * time and the clients per API.
 */
class LoadTest {
  static {
    // The gRPC client asks for SO_KEEPALIVE, which a unix socket has not: Netty warns each time.
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.grpc.netty.shaded.io.netty.bootstrap.Bootstrap", "error");
  }

  /** Peak resident memory allowed to the daemon under this load (its heap is the JVM default). */
  private static final long MAX_RSS_KIB = 768 << 10;

  @RootTest
  void concurrentClientsOnBothApis() throws Exception {
    Require.root();
    int seconds = Integer.getInteger("layerd.load.seconds", 15);
    int clients = Integer.getInteger("layerd.load.clients", 4);
    Path dir = TestFiles.scratchDirectory("load");
    Path root = dir.resolve("root");
    Path socket = dir.resolve("s.sock");
    Path grpc = dir.resolve("g.sock");
    Process p = LayerdProcess.start(root, socket, grpc, "overlay2", dir.resolve("layerd.log"));
    try {
      byte[] base = TarBuilder.create().dir("etc").file("etc/os-release", "ID=load\n").build();
      try (PluginClient c = new PluginClient(socket)) {
        c.call("Plugin.Activate").ok();
        c.call("GraphDriver.Create", "ID", "base").ok();
        c.applyDiff("base", null, new ByteArrayInputStream(base)).ok();
      }
      int fdsBefore = fds(p.pid());
      long mountsBefore = mounts(root);

      AtomicLong calls = new AtomicLong();
      Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        int n = i;
        threads.add(new Thread(() -> dockerLike(socket, n, end, calls, errors), "docker-" + i));
        threads.add(new Thread(() -> containerdLike(grpc, n, end, calls, errors), "ctd-" + i));
      }
      threads.forEach(Thread::start);
      long peakKib = 0;
      while (System.nanoTime() < end) {
        peakKib = Math.max(peakKib, status(p.pid(), "VmHWM:"));
        Thread.sleep(200);
      }
      for (Thread t : threads) {
        t.join(120_000);
      }
      peakKib = Math.max(peakKib, status(p.pid(), "VmHWM:"));
      assertEquals(List.of(), List.copyOf(errors), "calls failed under load");

      int fdsAfter = fdsBefore;
      long settle = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < settle && (fdsAfter = fds(p.pid())) > fdsBefore) {
        Thread.sleep(100); // connections the clients closed are closed by layerd in turn
      }
      System.out.printf(
          "load: %d graph-driver and %d snapshotter clients for %d s: %d calls, no error; layerd's"
              + " descriptors %d before, %d after; mounts %d before, %d after; peak RSS %d MiB%n",
          clients,
          clients,
          seconds,
          calls.get(),
          fdsBefore,
          fdsAfter,
          mountsBefore,
          mounts(root),
          peakKib >> 10);
      // Not more than before: a descriptor the JVM held lazily (a jar, a selector) may have
      // gone meanwhile, so fewer is no leak.
      assertTrue(
          fdsAfter <= fdsBefore,
          "layerd's open descriptors after the load: " + fdsAfter + ", before: " + fdsBefore);
      assertEquals(mountsBefore, mounts(root), "mounts under the data-root after the load");
      assertTrue(peakKib < MAX_RSS_KIB, "layerd's peak RSS: " + (peakKib >> 10) + " MiB");
    } finally {
      p.destroy();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      TestFiles.unmountUnder(dir);
      TestFiles.deleteTree(dir);
    }
  }

  private static void dockerLike(
      Path socket, int client, long end, AtomicLong calls, Queue<Throwable> errors) {
    byte[] layer = TarBuilder.create().file("c" + client, "x".repeat(4096)).build();
    try (PluginClient c = new PluginClient(socket)) {
      for (int n = 0; System.nanoTime() < end; n++) {
        String id = "d" + client + "-" + n;
        c.call("GraphDriver.Create", "ID", id, "Parent", "base").ok();
        c.applyDiff(id, "base", new ByteArrayInputStream(layer)).ok();
        String rw = id + "-rw";
        c.call("GraphDriver.CreateReadWrite", "ID", rw, "Parent", id).ok();
        Path d = Path.of(c.call("GraphDriver.Get", "ID", rw).ok().get("Dir").asText());
        if (!Files.exists(d.resolve("c" + client)) || !Files.exists(d.resolve("etc/os-release"))) {
          throw new AssertionError("layer " + rw + " is missing its files at " + d);
        }
        c.call("GraphDriver.Put", "ID", rw).ok();
        c.call("GraphDriver.Remove", "ID", rw).ok();
        c.call("GraphDriver.Remove", "ID", id).ok();
        calls.addAndGet(8);
      }
    } catch (Throwable e) {
      errors.add(e);
    }
  }

  private static void containerdLike(
      Path grpc, int client, long end, AtomicLong calls, Queue<Throwable> errors) {
    EventLoopGroup group = new EpollEventLoopGroup(1);
    ManagedChannel ch =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(grpc.toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .usePlaintext()
            .build();
    try {
      SnapshotsGrpc.SnapshotsBlockingStub s = SnapshotsGrpc.newBlockingStub(ch);
      for (int n = 0; System.nanoTime() < end; n++) {
        String key = "default/" + client + "/" + n;
        s.prepare(req(key, "").build());
        s.commit(
            SnapshotsProto.CommitSnapshotRequest.newBuilder()
                .setSnapshotter("layerd")
                .setName(key + "/c")
                .setKey(key)
                .build());
        s.view(
            SnapshotsProto.ViewSnapshotRequest.newBuilder()
                .setSnapshotter("layerd")
                .setKey(key + "/v")
                .setParent(key + "/c")
                .build());
        s.remove(remove(key + "/v"));
        s.remove(remove(key + "/c"));
        calls.addAndGet(5);
      }
    } catch (Throwable e) {
      errors.add(e);
    } finally {
      ch.shutdownNow();
      try {
        ch.awaitTermination(10, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static SnapshotsProto.PrepareSnapshotRequest.Builder req(String key, String parent) {
    return SnapshotsProto.PrepareSnapshotRequest.newBuilder()
        .setSnapshotter("layerd")
        .setKey(key)
        .setParent(parent);
  }

  private static SnapshotsProto.RemoveSnapshotRequest remove(String key) {
    return SnapshotsProto.RemoveSnapshotRequest.newBuilder()
        .setSnapshotter("layerd")
        .setKey(key)
        .build();
  }

  private static int fds(long pid) throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      return (int) s.count();
    }
  }

  private static long mounts(Path root) throws IOException {
    return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
        .filter(l -> l.contains(root.toString()))
        .count();
  }

  /** A "Name: N kB" line of /proc/PID/status, in KiB. */
  private static long status(long pid, String name) throws IOException {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith(name)) {
        return Long.parseLong(l.substring(name.length()).trim().split("\\s+")[0]);
      }
    }
    throw new IOException("no " + name + " in /proc/" + pid + "/status");
  }
}
