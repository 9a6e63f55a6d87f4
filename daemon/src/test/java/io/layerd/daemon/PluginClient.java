package io.layerd.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamRequestContent;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.Transport;

/** Talks to a layerd socket the way dockerd does: POST /Method, JSON bodies, tar streams. */
final class PluginClient implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http;
  private final Path socket;

  PluginClient(Path socket) {
    this.socket = socket;
    this.http = new HttpClient();
    try {
      http.start();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A status and a parsed JSON body. */
  record Reply(int status, JsonNode body) {
    /** The body of a 200 without "Err", or an AssertionError naming what came back. */
    JsonNode ok() {
      if (status != 200 || body.has("Err")) {
        throw new AssertionError("expected success, got " + status + " " + body);
      }
      return body;
    }

    /** The "Err" message (any status). */
    String err() {
      if (!body.has("Err")) {
        throw new AssertionError("expected {\"Err\":...}, got " + status + " " + body);
      }
      return body.get("Err").asText();
    }
  }

  Request request(String method) {
    return http.newRequest("http://localhost/" + method)
        .method(HttpMethod.POST)
        .transport(new Transport.TCPUnix(socket))
        .headers(h -> h.put("Accept", "application/vnd.docker.plugins.v1.2+json"))
        .timeout(120, TimeUnit.SECONDS);
  }

  /** POST /method with a JSON body built from key-value pairs (null values left out). */
  Reply call(String method, Object... keyValues) {
    Map<String, Object> body = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      if (keyValues[i + 1] != null) {
        body.put((String) keyValues[i], keyValues[i + 1]);
      }
    }
    try {
      return send(request(method).body(new BytesRequestContent(JSON.writeValueAsBytes(body))));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Reply send(Request r) {
    try {
      ContentResponse resp = r.send();
      byte[] b = resp.getContent();
      JsonNode n = b.length == 0 ? JSON.createObjectNode() : JSON.readTree(b);
      return new Reply(resp.getStatus(), n);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } catch (TimeoutException | ExecutionException | IOException e) {
      throw new IllegalStateException("calling " + r.getURI() + ": " + e, e);
    }
  }

  /** ApplyDiff with a chunked body read from {@code tar}. */
  Reply applyDiff(String id, String parent, InputStream tar) {
    return send(
        request(applyDiffPath(id, parent))
            .body(
                new InputStreamRequestContent(
                    "application/x-tar", tar, (ByteBufferPool.Sized) null)));
  }

  static String applyDiffPath(String id, String parent) {
    return "GraphDriver.ApplyDiff?id="
        + URLEncoder.encode(id, StandardCharsets.UTF_8)
        + "&parent="
        + (parent == null ? "" : URLEncoder.encode(parent, StandardCharsets.UTF_8));
  }

  /** Diff: the status and the whole response body. */
  static final class Stream {
    private final int status;
    private final byte[] body;

    Stream(int status, byte[] body) {
      this.status = status;
      this.body = body.clone();
    }

    int status() {
      return status;
    }

    byte[] body() {
      return body.clone();
    }
  }

  Stream diff(String id, String parent) throws IOException {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("ID", id);
    if (parent != null) {
      body.put("Parent", parent);
    }
    InputStreamResponseListener l = new InputStreamResponseListener();
    request("GraphDriver.Diff").body(new BytesRequestContent(JSON.writeValueAsBytes(body))).send(l);
    try {
      Response r = l.get(120, TimeUnit.SECONDS);
      try (InputStream in = l.getInputStream()) {
        return new Stream(r.getStatus(), in.readAllBytes());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    } catch (TimeoutException | ExecutionException e) {
      throw new IOException(e);
    }
  }

  @Override
  public void close() {
    try {
      http.stop();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
