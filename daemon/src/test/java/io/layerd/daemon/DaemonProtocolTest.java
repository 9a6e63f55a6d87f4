package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.OutputStreamRequestContent;
import org.eclipse.jetty.client.Request;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every method of the graph-driver protocol against a daemon started in-process on a temporary
 * socket with the vfs driver, spoken as dockerd speaks it (shapes from the recorded wire logs).
 */
class DaemonProtocolTest {
  @TempDir static Path tmp;
  static Daemon daemon;
  static PluginClient client;

  @BeforeAll
  static void start() throws IOException {
    daemon = Daemon.start(Settings.of(tmp.resolve("root"), tmp.resolve("run/layerd.sock"), "vfs"));
    client = new PluginClient(daemon.socket());
  }

  @AfterAll
  static void stop() throws IOException {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  private static int counter;

  /** A fresh 64-hex layer id, as dockerd makes them. */
  static synchronized String newId(String tag) {
    counter++;
    String hex = String.format("%08x", counter) + Integer.toHexString(tag.hashCode());
    return (hex + "0".repeat(64)).substring(0, 64);
  }

  static byte[] baseLayer() {
    return TarBuilder.create()
        .dir("etc/")
        .file("etc/hello.txt", "hello\n")
        .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        .dir("bin/")
        .file("bin/tool", "#!/bin/sh\necho tool\n")
        .mode(0755)
        .symlink("bin/alias", "tool")
        .hardlink("bin/tool2", "bin/tool")
        .dir("gone/")
        .file("gone/a", "a")
        .build();
  }

  // ------------------------------------------------------------------ start-up calls

  @Test
  void activateInitCapabilitiesStatusAsDockerdStarts() {
    assertEquals(
        "[\"GraphDriver\"]", client.call("Plugin.Activate").ok().get("Implements").toString());
    JsonNode init =
        client
            .call(
                "GraphDriver.Init",
                "Home",
                tmp.resolve("docker/layerd").toString(),
                "Opts",
                null,
                "UIDMaps",
                null,
                "GIDMaps",
                null)
            .ok();
    assertEquals("{}", init.toString());
    JsonNode caps = client.call("GraphDriver.Capabilities").ok();
    assertEquals("{\"Capabilities\":{\"ReproducesExactDiffs\":false}}", caps.toString());
    JsonNode status = client.call("GraphDriver.Status").ok().get("Status");
    assertTrue(status.isArray());
    Map<String, String> pairs = new HashMap<>();
    for (JsonNode p : status) {
      assertEquals(2, p.size(), "each Status entry is a [key, value] pair: " + p);
      pairs.put(p.get(0).asText(), p.get(1).asText());
    }
    assertTrue(pairs.containsKey("Backing Filesystem"), pairs.toString());
    assertEquals("vfs", pairs.get("Driver"));
    assertTrue(pairs.containsKey("Layers"), pairs.toString());
  }

  /**
   * dockerd's Go client sends {@code Host:} with no value (the URL's host is the socket path, which
   * Go cuts at its first '/'): Jetty alone answers "400 Blank Host". These are the bytes dockerd
   * 20.10 sends, written to the socket as they are.
   */
  @Test
  void acceptsDockerdsEmptyHostHeader() throws IOException {
    String req =
        "POST /Plugin.Activate HTTP/1.1\r\n"
            + "Host: \r\n"
            + "User-Agent: Go-http-client/1.1\r\n"
            + "Content-Length: 0\r\n"
            + "Accept: application/vnd.docker.plugins.v1.2+json\r\n"
            + "Accept-Encoding: gzip\r\n"
            + "Connection: close\r\n"
            + "\r\n";
    String reply = exchange(req);
    assertTrue(reply.startsWith("HTTP/1.1 200"), reply);
    assertTrue(reply.endsWith("{\"Implements\":[\"GraphDriver\"]}"), reply);
  }

  /**
   * Issue 14, item 7: Plugin.Activate with the body {@code {}} lost its answer on 0.5-3% of fresh
   * connections (the body, sent after the headers, was never read: the connection was closed under
   * the client's write). Each connection here writes the headers and then the body, as Go's client
   * may, and must read its whole answer.
   */
  @Test
  // The yield only makes a separate read of the body likelier; no result depends on it.
  @SuppressWarnings("ThreadPriorityCheck")
  void activateWithABodyAnswersOnEveryFreshConnection() throws IOException {
    String head =
        "POST /Plugin.Activate HTTP/1.1\r\n"
            + "Host: \r\n"
            + "User-Agent: Go-http-client/1.1\r\n"
            + "Content-Length: 2\r\n"
            + "Accept: application/vnd.docker.plugins.v1.2+json\r\n"
            + "Content-Type: application/json\r\n"
            + "\r\n";
    List<String> failures = new ArrayList<>();
    int n = 1500;
    for (int i = 0; i < n; i++) {
      try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(daemon.socket()));
        ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
        Thread.yield();
        ch.write(ByteBuffer.wrap("{}".getBytes(StandardCharsets.US_ASCII)));
        String reply = readOneResponse(Channels.newInputStream(ch));
        if (!reply.startsWith("HTTP/1.1 200")
            || !reply.endsWith("{\"Implements\":[\"GraphDriver\"]}")) {
          failures.add("#" + i + ": " + reply);
        }
      } catch (IOException e) {
        failures.add("#" + i + ": " + e);
      }
    }
    assertEquals(List.of(), failures, failures.size() + " of " + n + " connections failed");
  }

  /** Reads one HTTP response (headers, then Content-Length bytes) without waiting for EOF. */
  private static String readOneResponse(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("the connection ended inside the headers: " + sb);
      }
      sb.append((char) b);
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(sb);
    if (!m.find()) {
      throw new IOException("no Content-Length: " + sb);
    }
    byte[] body = in.readNBytes(Integer.parseInt(m.group(1)));
    return sb + new String(body, StandardCharsets.UTF_8);
  }

  /** Issue 14, item 6: malformed JSON was answered with Jackson's internals. */
  @Test
  void malformedJsonIsAnsweredWithAPlainMessage() throws IOException {
    String req =
        "POST /GraphDriver.Exists HTTP/1.1\r\n"
            + "Host: \r\n"
            + "Content-Length: 9\r\n"
            + "Connection: close\r\n"
            + "\r\n"
            + "{\"ID\": x}";
    String reply = exchange(req);
    String err = reply.substring(reply.indexOf("\r\n\r\n") + 4);
    assertTrue(err.contains("the request body is not JSON"), err);
    assertTrue(err.contains("(line 1, column "), err);
    assertFalse(err.contains("Source"), err);
    assertFalse(err.contains("StreamReadFeature"), err);
    assertFalse(err.contains("REDACTED"), err);
  }

  /** Sends a whole request on a fresh connection and reads the answer to the connection's end. */
  private static String exchange(String request) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(daemon.socket()));
      ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
      try (InputStream in = Channels.newInputStream(ch)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    }
  }

  @Test
  void socketIsPrivateToTheUser() throws IOException {
    assertEquals(
        "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(daemon.socket())));
  }

  // ------------------------------------------------------------------ the layer life cycle

  /**
   * The sequence dockerd runs for load, create, run, diff, commit and rm (see the protocol doc),
   * checking each answer's shape.
   */
  @Test
  void loadCreateDiffCommitRemove() throws IOException {
    String base = newId("base");
    String top = newId("top");
    client.call("GraphDriver.Create", "ID", base).ok();
    JsonNode applied = client.applyDiff(base, null, new ByteArrayInputStream(baseLayer())).ok();
    long baseSize = applied.get("Size").asLong();
    assertTrue(baseSize >= "hello\n".length() + 30, "Size counts file content: " + applied);

    client.call("GraphDriver.Create", "ID", top, "Parent", base).ok();
    byte[] topTar =
        TarBuilder.create()
            .whiteout("etc/hello.txt")
            .opaque("gone")
            .file("etc/new.txt", "new\n")
            .build();
    client.applyDiff(top, base, new ByteArrayInputStream(topTar)).ok();
    assertTrue(client.call("GraphDriver.Exists", "ID", top).ok().get("Exists").asBoolean());

    // create container: C-init (rw) on the image, then C on C-init: an rw layer as a parent
    String init = newId("c") + "-init";
    String c = init.substring(0, init.length() - 5);
    client.call("GraphDriver.CreateReadWrite", "ID", init, "Parent", top).ok();
    Path initDir = Path.of(client.call("GraphDriver.Get", "ID", init).ok().get("Dir").asText());
    Files.writeString(initDir.resolve("etc/hostname"), "");
    client.call("GraphDriver.Put", "ID", init).ok();
    client.call("GraphDriver.CreateReadWrite", "ID", c, "Parent", init).ok();

    Path dir = Path.of(client.call("GraphDriver.Get", "ID", c).ok().get("Dir").asText());
    assertEquals("new\n", Files.readString(dir.resolve("etc/new.txt")));
    assertFalse(Files.exists(dir.resolve("etc/hello.txt")), "the whiteout hid hello.txt");
    assertTrue(Files.exists(dir.resolve("etc/hostname")), "C sees what was put in C-init");
    Files.writeString(dir.resolve("etc/newf"), "hi\n");
    Files.delete(dir.resolve("etc/passwd"));
    Files.createDirectories(dir.resolve("tmp/sub"));
    client.call("GraphDriver.Put", "ID", c).ok();

    JsonNode changes = client.call("GraphDriver.Changes", "ID", c, "Parent", init).ok();
    Map<String, Integer> kinds = new HashMap<>();
    for (JsonNode ch : changes.get("Changes")) {
      kinds.put(ch.get("Path").asText(), ch.get("Kind").asInt());
    }
    assertEquals(
        Map.of("/etc", 0, "/etc/newf", 1, "/etc/passwd", 2, "/tmp", 1, "/tmp/sub", 1),
        kinds,
        "Changes are absolute paths, Kind 0 modified, 1 added, 2 deleted");
    assertEquals(
        3, client.call("GraphDriver.DiffSize", "ID", c, "Parent", init).ok().get("Size").asLong());

    JsonNode meta = client.call("GraphDriver.GetMetadata", "ID", c).ok();
    assertTrue(meta.get("Metadata").isObject(), meta.toString());

    // commit: Get C; Diff C vs C-init streamed; Create N on the image; ApplyDiff N; Put C
    client.call("GraphDriver.Get", "ID", c).ok();
    PluginClient.Stream diff = client.diff(c, init);
    assertEquals(200, diff.status());
    Map<String, TarEntry> entries = new HashMap<>();
    TarReader r = new TarReader(new ByteArrayInputStream(diff.body()));
    for (TarEntry e = r.next(); e != null; e = r.next()) {
      entries.put(e.displayName(), e);
    }
    assertTrue(entries.containsKey("etc/newf"), entries.keySet().toString());
    assertTrue(entries.containsKey("etc/.wh.passwd"), entries.keySet().toString());
    String committed = newId("commit");
    client.call("GraphDriver.Create", "ID", committed, "Parent", top).ok();
    JsonNode size = client.applyDiff(committed, top, new ByteArrayInputStream(diff.body())).ok();
    assertEquals(3, size.get("Size").asLong(), "the committed layer holds 3 bytes: " + size);
    client.call("GraphDriver.Put", "ID", c).ok();
    Path cd = Path.of(client.call("GraphDriver.Get", "ID", committed).ok().get("Dir").asText());
    assertEquals("hi\n", Files.readString(cd.resolve("etc/newf")));
    assertFalse(Files.exists(cd.resolve("etc/passwd")));
    client.call("GraphDriver.Put", "ID", committed).ok();

    // rm, rmi: top down
    for (String id : List.of(c, init, committed, top, base)) {
      client.call("GraphDriver.Remove", "ID", id).ok();
      assertFalse(client.call("GraphDriver.Exists", "ID", id).ok().path("Exists").asBoolean());
    }
    client.call("GraphDriver.Remove", "ID", base).ok(); // idempotent, as dockerd expects
    assertEquals(0, daemon.engine().references(c));
  }

  @Test
  void getAndPutAreCounted() {
    String id = newId("counted");
    client.call("GraphDriver.Create", "ID", id).ok();
    client.applyDiff(id, null, new ByteArrayInputStream(baseLayer())).ok();
    String dir1 = client.call("GraphDriver.Get", "ID", id).ok().get("Dir").asText();
    String dir2 =
        client.call("GraphDriver.Get", "ID", id, "MountLabel", "").ok().get("Dir").asText();
    assertEquals(dir1, dir2);
    assertEquals(2, daemon.engine().references(id));
    client.call("GraphDriver.Put", "ID", id).ok();
    assertEquals(1, daemon.engine().references(id));
    client.call("GraphDriver.Put", "ID", id).ok();
    assertEquals(0, daemon.engine().references(id));
    String err = client.call("GraphDriver.Put", "ID", id).err();
    assertTrue(err.contains("put more often than it was got"), err);
    client.call("GraphDriver.Get", "ID", id).ok();
    client.call("GraphDriver.Get", "ID", id).ok();
    assertEquals(2, daemon.engine().references(id));
    client.call("GraphDriver.Cleanup").ok();
    assertEquals(0, daemon.engine().references(id), "Cleanup releases every outstanding Get");
    client.call("GraphDriver.Remove", "ID", id).ok();
  }

  /** layerd's own methods, for {@code layerctl layers}: the store's records and one in detail. */
  @Test
  void layerdListsAndInspectsForLayerctl() {
    String base = newId("listed");
    String rw = newId("listedrw") + "-init";
    client.call("GraphDriver.Create", "ID", base).ok();
    client.applyDiff(base, null, new ByteArrayInputStream(baseLayer())).ok();
    client.call("GraphDriver.CreateReadWrite", "ID", rw, "Parent", base).ok();
    Map<String, JsonNode> byId = new HashMap<>();
    for (JsonNode l : client.call("Layerd.Layers").ok().get("Layers")) {
      byId.put(l.get("id").asText(), l);
    }
    assertEquals("ro", byId.get(base).get("kind").asText());
    assertTrue(byId.get(base).get("diffId").asText().startsWith("sha256:"));
    assertEquals(base, byId.get(rw).get("parent").asText());
    JsonNode detail = client.call("Layerd.Inspect", "ID", base).ok().get("Layer");
    assertEquals(rw, detail.get("children").get(0).asText());
    assertEquals("vfs", detail.get("driver").asText());
    client.call("GraphDriver.Remove", "ID", rw).ok();
    client.call("GraphDriver.Remove", "ID", base).ok();
    // Issue 14, item 9: a missing layer, said as layerctl says it offline.
    assertEquals(
        "layerd: no layer " + base + " in " + daemon.dataRoot().toAbsolutePath(),
        client.call("Layerd.Inspect", "ID", base).err());
  }

  // ------------------------------------------------------------------ errors

  @Test
  void errorsAreErrWithStatus200SoThatDockerShowsThemCleanly() {
    String missing = newId("missing");
    PluginClient.Reply r = client.call("GraphDriver.Get", "ID", missing);
    assertEquals(200, r.status());
    assertEquals("layerd: layer " + missing + " does not exist", r.err());

    r = client.call("GraphDriver.Create", "ID", "../escape");
    assertEquals(200, r.status());
    assertTrue(r.err().contains("'../escape' holds '/'"), r.err());

    String child = newId("orphan");
    assertTrue(
        client.call("GraphDriver.Create", "ID", child, "Parent", missing).err().contains(missing));

    String base = newId("parent");
    client.call("GraphDriver.Create", "ID", base).ok();
    client.call("GraphDriver.Create", "ID", child, "Parent", base).ok();
    String busy = client.call("GraphDriver.Remove", "ID", base).err();
    assertTrue(busy.contains("has child layers (" + child + ")"), busy);
    assertTrue(client.call("GraphDriver.Create", "ID", base).err().contains("already exists"));

    String opt =
        client
            .call(
                "GraphDriver.CreateReadWrite",
                "ID",
                newId("sized"),
                "Parent",
                base,
                "StorageOpt",
                Map.of("size", "10M"))
            .err();
    assertTrue(opt.contains("no per-container storage options (given: size)"), opt);

    assertEquals(404, client.call("GraphDriver.Frobnicate").status());
    assertTrue(client.call("GraphDriver.Get").err().contains("no \"ID\""));
    client.call("GraphDriver.Remove", "ID", child).ok();
    client.call("GraphDriver.Remove", "ID", base).ok();
  }

  /** Diff's 200 body is a tar to dockerd, so its errors come with status 500. */
  @Test
  void diffErrorsUseANon200Status() throws IOException {
    PluginClient.Stream s = client.diff(newId("nodiff"), null);
    assertEquals(500, s.status());
    JsonNode err = PluginClient.JSON.readTree(s.body());
    assertTrue(err.get("Err").asText().contains("does not exist"), err.toString());
  }

  @Test
  void aBadTarRollsBackToTheEmptyLayer() throws IOException {
    String id = newId("bad");
    client.call("GraphDriver.Create", "ID", id).ok();
    byte[] bad = TarBuilder.create().file("a", "x").build();
    bad[148] ^= 1; // header checksum
    String err = client.applyDiff(id, null, new ByteArrayInputStream(bad)).err();
    assertTrue(err.startsWith("layerd: "), err);
    assertTrue(client.call("GraphDriver.Exists", "ID", id).ok().path("Exists").asBoolean());
    try (var s = Files.list(daemon.dataRoot().resolve("vfs/dir").resolve(id))) {
      assertEquals(List.of(), s.toList(), "the layer is as Create made it");
    }
    client.applyDiff(id, null, new ByteArrayInputStream(baseLayer())).ok();
    client.call("GraphDriver.Remove", "ID", id).ok();
  }

  /**
   * Issue 14, item 1: a second ApplyDiff with garbage on a filled layer deleted it although a
   * container's layer was built on it.
   */
  @Test
  void aSecondApplyDiffOnAFilledLayerIsRefusedAndDeletesNothing() throws IOException {
    String img = newId("img");
    String ctr = newId("ctr");
    client.call("GraphDriver.Create", "ID", img).ok();
    client.applyDiff(img, null, new ByteArrayInputStream(baseLayer())).ok();
    client.call("GraphDriver.CreateReadWrite", "ID", ctr, "Parent", img).ok();
    byte[] bad = TarBuilder.create().file("a", "x").build();
    bad[148] ^= 1;
    String err = client.applyDiff(img, null, new ByteArrayInputStream(bad)).err();
    assertTrue(err.contains("already holds an applied diff"), err);
    assertTrue(client.call("GraphDriver.Exists", "ID", img).ok().path("Exists").asBoolean());
    String dir = client.call("GraphDriver.Get", "ID", ctr).ok().path("Dir").asText();
    assertEquals("hello\n", Files.readString(Path.of(dir, "etc/hello.txt")));
    client.call("GraphDriver.Put", "ID", ctr).ok();
    client.call("GraphDriver.Remove", "ID", ctr).ok();
    client.call("GraphDriver.Remove", "ID", img).ok();
  }

  /** Issue 14, item 1: ApplyDiff's parent query was ignored. */
  @Test
  void applyDiffRefusesAParentThatIsNotTheLayers() throws IOException {
    String id = newId("parentq");
    client.call("GraphDriver.Create", "ID", id).ok();
    String wrong =
        client.applyDiff(id, "does-not-exist", new ByteArrayInputStream(baseLayer())).err();
    assertTrue(wrong.contains("names parent does-not-exist"), wrong);
    String hostile = client.applyDiff(id, "../../x", new ByteArrayInputStream(baseLayer())).err();
    assertTrue(hostile.contains("'../../x'"), hostile);
    client.applyDiff(id, null, new ByteArrayInputStream(baseLayer())).ok();
    client.call("GraphDriver.Remove", "ID", id).ok();
  }

  // ------------------------------------------------------------------ streaming and concurrency

  /** dockerd's connection drops half way through a layer: what it applied is gone afterwards. */
  @Test
  void aCutOffApplyDiffRollsBackWhatItApplied() throws Exception {
    String id = newId("cut");
    client.call("GraphDriver.Create", "ID", id).ok();
    byte[] tar = TarBuilder.create().file("big1", 512 * 1024).file("big2", 512 * 1024).build();
    OutputStreamRequestContent body = new OutputStreamRequestContent();
    Request req = client.request(PluginClient.applyDiffPath(id, null)).body(body);
    java.util.concurrent.CompletableFuture<Throwable> done =
        new java.util.concurrent.CompletableFuture<>();
    req.send(result -> done.complete(result.getFailure()));
    try (OutputStream out = body.getOutputStream()) {
      out.write(tar, 0, tar.length / 2);
      out.flush();
      DaemonProcessTest.awaitApplying(daemon.dataRoot(), id); // the first half is being applied
      var unused = req.abort(new IOException("dockerd went away"));
    } catch (IOException expected) {
      // the aborted request's stream refuses the close
    }
    done.get(30, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (daemon.engine().store().get(id).orElseThrow().applying()
        && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertFalse(daemon.engine().store().get(id).orElseThrow().applying());
    try (var s = Files.list(daemon.dataRoot().resolve("vfs/dir").resolve(id))) {
      assertEquals(List.of(), s.toList(), "the half-applied files were rolled back");
    }
    try (var s = Files.list(daemon.dataRoot().resolve("staging"))) {
      assertEquals(List.of(), s.toList(), "nothing left in staging");
    }
  }

  /** Parallel layer downloads apply in parallel: different layers, at the same time. */
  @Test
  void parallelApplyDiffsOfDifferentLayers() throws Exception {
    int n = 4;
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(newId("par" + i));
      client.call("GraphDriver.Create", "ID", ids.get(i)).ok();
    }
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<PluginClient.Reply>> replies = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String id = ids.get(i);
        TarBuilder b = TarBuilder.create().dir("layer/");
        for (int f = 0; f < 40; f++) {
          b.file("layer/f" + f, 32 * 1024 + f);
        }
        b.file("layer/which", id);
        byte[] tar = b.build();
        replies.add(
            pool.submit(
                () -> client.applyDiff(id, null, new SlowStream(new ByteArrayInputStream(tar)))));
      }
      for (int i = 0; i < n; i++) {
        replies.get(i).get(120, TimeUnit.SECONDS).ok();
      }
    } finally {
      pool.shutdownNow();
    }
    for (String id : ids) {
      Path dir = Path.of(client.call("GraphDriver.Get", "ID", id).ok().get("Dir").asText());
      assertEquals(id, Files.readString(dir.resolve("layer/which")));
      assertArrayEquals(
          TarBuilder.generatedContent(32 * 1024 + 7), Files.readAllBytes(dir.resolve("layer/f7")));
      client.call("GraphDriver.Put", "ID", id).ok();
      client.call("GraphDriver.Remove", "ID", id).ok();
    }
  }

  /** Hands out at most 8 KiB a read: requests overlap instead of finishing one by one. */
  static final class SlowStream extends java.io.FilterInputStream {
    SlowStream(InputStream in) {
      super(in);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return super.read(b, off, Math.min(len, 8 * 1024));
    }
  }
}
