package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.Request;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzing the daemon's request decoding over its real socket: a graph-driver method (the first byte
 * chooses it, or ApplyDiff with the query string and tar the fuzzer gives) with any body. Every
 * request gets an answer dockerd can read: a JSON object with the status the protocol allows (200;
 * 404 for an unknown method; 500 only for Diff), and every failure is {@code {"Err": "layerd:
 * ..."}}; the daemon keeps answering.
 */
class RequestFuzzTest {
  private static final String[] METHODS = {
    "Plugin.Activate",
    "GraphDriver.Init",
    "GraphDriver.Create",
    "GraphDriver.CreateReadWrite",
    "GraphDriver.Remove",
    "GraphDriver.Get",
    "GraphDriver.Put",
    "GraphDriver.Exists",
    "GraphDriver.Status",
    "GraphDriver.GetMetadata",
    "GraphDriver.Cleanup",
    "GraphDriver.Diff",
    "GraphDriver.Changes",
    "GraphDriver.DiffSize",
    "GraphDriver.Capabilities",
    "Layerd.Layers",
    "Layerd.Inspect",
    "No.Such.Method",
  };

  /** The first byte's value that makes the request an ApplyDiff: "query\n" then the tar. */
  private static final int APPLY_DIFF = 255;

  private static Path dir;
  private static Daemon daemon;
  private static PluginClient client;

  private static synchronized PluginClient client() {
    if (client == null) {
      try {
        dir = TestFiles.scratchDirectory("reqfuzz");
        daemon = Daemon.start(Settings.of(dir.resolve("root"), dir.resolve("s.sock"), "vfs"));
        client = new PluginClient(daemon.socket());
        client.call("GraphDriver.Create", "ID", "base").ok();
        client.call("GraphDriver.CreateReadWrite", "ID", "rw", "Parent", "base").ok();
        Runtime.getRuntime().addShutdownHook(new Thread(RequestFuzzTest::stop));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return client;
  }

  private static void stop() {
    try {
      client.close();
      daemon.close();
      TestFiles.deleteTree(dir);
    } catch (IOException | RuntimeException e) {
      // the JVM is ending
    }
  }

  static Stream<byte[]> seeds() {
    List<byte[]> out = new ArrayList<>();
    String[] bodies = {
      "",
      "{}",
      "{\"ID\":\"base\"}",
      "{\"ID\":\"rw\",\"Parent\":\"base\"}",
      "{\"ID\":\"new\",\"Parent\":\"\",\"StorageOpt\":{\"size\":\"1G\"}}",
      "{\"Home\":\"/var/lib/docker/layerd\",\"Opts\":[],\"UIDMaps\":[{\"ContainerID\":0,"
          + "\"HostID\":100000,\"Size\":65536}],\"GIDMaps\":null}",
      "{\"ID\":\"../x\"}",
      "[1,2]",
      "{\"ID\":1}",
    };
    for (int m = 0; m < METHODS.length; m++) {
      for (String b : bodies) {
        out.add(tagged(m, b.getBytes(StandardCharsets.UTF_8)));
      }
    }
    byte[] tar = TarBuilder.create().dir("etc").file("etc/hello", "hi\n").build();
    out.add(tagged(APPLY_DIFF, concat("id=base&parent=\n".getBytes(StandardCharsets.UTF_8), tar)));
    out.add(tagged(APPLY_DIFF, concat("id=nope\n".getBytes(StandardCharsets.UTF_8), tar)));
    return out.stream();
  }

  private static byte[] tagged(int tag, byte[] body) {
    return concat(new byte[] {(byte) tag}, body);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @MethodSource("seeds")
  @FuzzTest
  void anyRequestGetsAnAnswer(byte[] data) {
    if (data.length == 0) {
      return;
    }
    PluginClient c = client();
    int tag = data[0] & 0xff;
    byte[] body = Arrays.copyOfRange(data, 1, data.length);
    String method;
    Request r;
    if (tag == APPLY_DIFF) {
      int nl = 0;
      while (nl < body.length && body[nl] != '\n') {
        nl++;
      }
      String query = new String(body, 0, nl, StandardCharsets.ISO_8859_1);
      byte[] tar = Arrays.copyOfRange(body, Math.min(nl + 1, body.length), body.length);
      method = "GraphDriver.ApplyDiff";
      r =
          c.request(method + "?" + query.replaceAll("[^A-Za-z0-9=&._-]", ""))
              .body(new BytesRequestContent(tar));
    } else {
      method = METHODS[tag % METHODS.length];
      r = c.request(method).body(new BytesRequestContent(body));
    }
    ContentResponse response;
    try {
      response = r.send();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (TimeoutException | ExecutionException e) {
      throw new AssertionError(method + " got no answer: " + e, e);
    }
    int status = response.getStatus();
    if (method.equals("GraphDriver.Diff") && status == 200) {
      return; // the layer as a tar
    }
    JsonNode b;
    try {
      byte[] bytes = response.getContent();
      b = bytes.length == 0 ? null : PluginClient.JSON.readTree(bytes);
    } catch (IOException e) {
      throw new AssertionError(method + " answered " + status + " with no JSON: " + e, e);
    }
    assertTrue(b != null && b.isObject(), method + " answered " + status + " with " + b);
    boolean allowed =
        switch (method) {
          case "No.Such.Method" -> status == 404 || (status == 200 && b.has("Err"));
          case "GraphDriver.Diff" -> status == 500 && b.has("Err");
          default -> status == 200;
        };
    assertTrue(allowed, method + " answered " + status + " " + b);
    if (b.has("Err")) {
      assertTrue(
          b.get("Err").isTextual() && b.get("Err").asText().startsWith("layerd"),
          method + " failed without a message of layerd's: " + b);
    }
  }
}
