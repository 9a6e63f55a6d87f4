package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.OutputStreamRequestContent;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Result;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** layerd as its own process: SIGTERM, a kill in the middle of a layer, restart recovery. */
class DaemonProcessTest {
  @TempDir Path tmp;
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void killLeftOvers() throws InterruptedException {
    for (Process p : started) {
      if (p.isAlive()) {
        p.destroyForcibly();
        p.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  /** Starts {@code layerd} in a child JVM (this JVM's class path) and waits for its socket. */
  private Process startLayerd(Path root, Path socket, String driver) throws Exception {
    Process p =
        LayerdProcess.start(
            root, socket, null, driver, log(started.size()), "--shutdown-timeout", "60");
    started.add(p);
    return p;
  }

  /**
   * Waits until layerd is writing the layer's first file (vfs keeps a layer in vfs/dir/ID): the
   * ApplyDiff is in flight, not just sent.
   */
  static void awaitApplying(Path root, String id) throws InterruptedException {
    Path first = root.resolve("vfs/dir").resolve(id).resolve("big1");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(first)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("layerd did not start applying " + id);
      }
      Thread.sleep(20);
    }
  }

  private Path log(int n) {
    return tmp.resolve("layerd-" + n + ".log");
  }

  private static byte[] twoBigFiles() {
    return TarBuilder.create().file("big1", 1 << 20).file("big2", 1 << 20).build();
  }

  /** An ApplyDiff whose body is written by the test, in parts. */
  private static final class Upload extends BufferingResponseListener {
    final OutputStreamRequestContent body = new OutputStreamRequestContent();
    final CompletableFuture<Result> done = new CompletableFuture<>();
    final Request request;
    volatile String text;

    Upload(PluginClient c, String id) {
      request = c.request(PluginClient.applyDiffPath(id, null)).body(body);
      request.send(this);
    }

    @Override
    public void onComplete(Result result) {
      text = getContentAsString(StandardCharsets.UTF_8);
      done.complete(result);
    }
  }

  @Test
  void sigtermLetsAnApplyDiffInFlightFinishThenStops() throws Exception {
    Path root = tmp.resolve("root");
    Path socket = tmp.resolve("layerd.sock");
    Process p = startLayerd(root, socket, "vfs");
    String id = DaemonProtocolTest.newId("sigterm");
    byte[] tar = twoBigFiles();
    try (PluginClient c = new PluginClient(socket)) {
      c.call("GraphDriver.Create", "ID", id).ok();
      Upload u = new Upload(c, id);
      OutputStream out = u.body.getOutputStream();
      out.write(tar, 0, tar.length / 2);
      out.flush();
      awaitApplying(root, id);
      p.destroy(); // SIGTERM
      Thread.sleep(1000);
      assertTrue(
          p.isAlive(), "layerd waits for the request in flight:\n" + Files.readString(log(0)));
      out.write(tar, tar.length / 2, tar.length - tar.length / 2);
      out.close();
      Result r = u.done.get(60, TimeUnit.SECONDS);
      assertTrue(r.isSucceeded(), "the ApplyDiff in flight finished: " + r);
      assertEquals(200, r.getResponse().getStatus());
      assertTrue(u.text.contains("\"Size\":" + (2 << 20)), u.text);
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "layerd stopped after it");
    assertFalse(Files.exists(socket), "the socket file is removed");
    try (Daemon d = Daemon.start(Settings.of(root, socket, "vfs"))) {
      assertTrue(d.engine().exists(id), "the layer applied during the stop is kept");
    }
  }

  @Test
  void aRestartRecoversFromAKillInTheMiddleOfALayer() throws Exception {
    Path root = tmp.resolve("root");
    Path socket = tmp.resolve("layerd.sock");
    Process p = startLayerd(root, socket, "vfs");
    String done = DaemonProtocolTest.newId("whole");
    String half = DaemonProtocolTest.newId("half");
    byte[] tar = twoBigFiles();
    try (PluginClient c = new PluginClient(socket)) {
      c.call("GraphDriver.Create", "ID", done).ok();
      c.applyDiff(done, null, new ByteArrayInputStream(DaemonProtocolTest.baseLayer())).ok();
      c.call("GraphDriver.Create", "ID", half).ok();
      Upload u = new Upload(c, half);
      OutputStream out = u.body.getOutputStream();
      out.write(tar, 0, tar.length / 2);
      out.flush();
      awaitApplying(root, half);
      p.destroyForcibly(); // SIGKILL: no shutdown hook, a stale socket, a half layer
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      var unused = u.request.abort(new IOException("the daemon died"));
    }
    assertTrue(Files.exists(socket), "a killed daemon leaves its socket");
    try (Daemon d = Daemon.start(Settings.of(root, socket, "vfs"));
        PluginClient c = new PluginClient(socket)) {
      assertTrue(d.engine().exists(done), "the whole layer is kept");
      assertFalse(d.engine().exists(half), "the half-applied layer is gone");
      Path dir = Path.of(c.call("GraphDriver.Get", "ID", done).ok().get("Dir").asText());
      assertEquals("hello\n", Files.readString(dir.resolve("etc/hello.txt")));
      c.call("GraphDriver.Put", "ID", done).ok();
      try (var s = Files.list(d.dataRoot().resolve("staging"))) {
        assertEquals(List.of(), s.toList());
      }
    }
  }

  @Test
  void oneDaemonPerDataRootAndPerSocket() throws Exception {
    Path root = tmp.resolve("root");
    try (Daemon d = Daemon.start(Settings.of(root, tmp.resolve("a.sock"), "vfs"))) {
      IOException inUse =
          assertThrows(
              IOException.class,
              () -> Daemon.start(Settings.of(root, tmp.resolve("b.sock"), "vfs")));
      assertTrue(inUse.getMessage().contains("in use by another layerd process"), inUse.toString());
      IOException listening =
          assertThrows(
              IOException.class,
              () -> Daemon.start(Settings.of(tmp.resolve("other"), d.socket(), "vfs")));
      assertTrue(listening.getMessage().contains("listens on"), listening.toString());
    }
    Files.writeString(tmp.resolve("file.sock"), "not a socket");
    IOException notSocket =
        assertThrows(
            IOException.class,
            () -> Daemon.start(Settings.of(tmp.resolve("r3"), tmp.resolve("file.sock"), "vfs")));
    assertTrue(notSocket.getMessage().contains("is not a socket"), notSocket.toString());
  }

  /** SIGTERM unmounts: a layer still got through overlay2 is not mounted once layerd is gone. */
  @RootTest
  void sigtermReleasesMounts() throws Exception {
    Path root = tmp.resolve("root");
    Path socket = tmp.resolve("layerd.sock");
    Process p = startLayerd(root, socket, "overlay2");
    String base = DaemonProtocolTest.newId("ovl");
    String rw = DaemonProtocolTest.newId("ovlrw");
    String dir;
    try (PluginClient c = new PluginClient(socket)) {
      c.call("GraphDriver.Create", "ID", base).ok();
      c.applyDiff(base, null, new ByteArrayInputStream(DaemonProtocolTest.baseLayer())).ok();
      c.call("GraphDriver.CreateReadWrite", "ID", rw, "Parent", base).ok();
      dir = c.call("GraphDriver.Get", "ID", rw).ok().get("Dir").asText();
    }
    assertTrue(mountinfo().contains(" " + dir + " "), "mounted while got");
    p.destroy();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertFalse(mountinfo().contains(root.toString()), "nothing stays mounted under " + root);
  }

  private static String mountinfo() throws IOException {
    return Files.readString(Path.of("/proc/self/mountinfo"));
  }
}
