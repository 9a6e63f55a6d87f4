package io.layerd.daemon;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.engine.spi.Change;
import io.layerd.idmap.IdMappings;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Docker's graph-driver plugin protocol (v1) as dockerd 20.10 speaks it on the wire: {@code POST
 * /Method}, JSON bodies with Go's field names, except ApplyDiff (query {@code id} and {@code
 * parent}, a chunked tar body) and Diff (a tar response body).
 *
 * <h2>Errors</h2>
 *
 * <p>A failure is {@code {"Err":"message"}} with status 200: dockerd's proxy reads the body and
 * returns {@code Err} as the error, so the docker CLI shows {@code Error response from daemon:
 * message}. A non-200 status would read {@code ...: GraphDriver.Method: message}. One exception:
 * Diff, whose 200 body dockerd reads as a tar, fails with status 500 and the same JSON (or, once
 * bytes of the tar are out, by cutting the stream, which dockerd's tar reader reports).
 */
final class GraphDriverHandler extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(GraphDriverHandler.class);

  /** What plugin responses say they are. */
  static final String PLUGIN_JSON = "application/vnd.docker.plugins.v1.2+json";

  /** JSON request bodies are small; a larger one is refused rather than buffered. */
  static final int MAX_JSON_BODY = 1 << 20;

  private static final ObjectMapper JSON =
      new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final GraphDriverService service;
  private final AtomicLong inFlight = new AtomicLong();

  GraphDriverHandler(GraphDriverService service) {
    this.service = service;
  }

  /** Requests being handled now. */
  long inFlight() {
    return inFlight.get();
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String method = Request.getPathInContext(request);
    if (method.startsWith("/")) {
      method = method.substring(1);
    }
    if (!HttpMethod.POST.is(request.getMethod())) {
      respond(
          response,
          callback,
          405,
          err("plugin methods are called with POST, not " + request.getMethod()));
      return true;
    }
    inFlight.incrementAndGet();
    long started = System.nanoTime();
    try {
      dispatch(method, request, response, callback);
    } catch (Exception e) { // every failure becomes {"Err":...} for dockerd
      fail(method, response, callback, e);
    } finally {
      inFlight.decrementAndGet();
      if (LOG.isDebugEnabled()) {
        LOG.debug("{} took {} ms", method, (System.nanoTime() - started) / 1_000_000);
      }
    }
    return true;
  }

  private void dispatch(String method, Request request, Response response, Callback callback)
      throws IOException {
    switch (method) {
      case "Plugin.Activate":
        // The body (dockerd sends none, other clients "{}") is read before the answer: Jetty
        // closes a connection whose request content is left unread, and a client still writing
        // that content then gets a broken pipe instead of the answer.
        body(request);
        ok(response, callback, Map.of("Implements", List.of("GraphDriver")));
        return;
      case "GraphDriver.ApplyDiff":
        applyDiff(request, response, callback);
        return;
      case "GraphDriver.Diff":
        diff(body(request), response, callback);
        return;
      default:
        break;
    }
    JsonNode in = body(request);
    Map<String, Object> out = new LinkedHashMap<>();
    switch (method) {
      case "GraphDriver.Init":
        service.init(
            text(in, "Home"), strings(in.get("Opts")), maps(in.get("UIDMaps"), in.get("GIDMaps")));
        break;
      case "GraphDriver.Capabilities":
        // Our Diff is not byte-for-byte the tar that was applied, so dockerd keeps its tar-split
        // metadata and rebuilds layer tars for save and push itself.
        out.put("Capabilities", Map.of("ReproducesExactDiffs", false));
        break;
      case "GraphDriver.Status":
        List<List<String>> pairs = new ArrayList<>();
        for (Map.Entry<String, String> e : service.status()) {
          pairs.add(List.of(e.getKey(), e.getValue()));
        }
        out.put("Status", pairs);
        break;
      case "GraphDriver.Create":
        service.create(id(in), text(in, "Parent"), stringMap(in.get("StorageOpt")));
        break;
      case "GraphDriver.CreateReadWrite":
        service.createReadWrite(id(in), text(in, "Parent"), stringMap(in.get("StorageOpt")));
        break;
      case "GraphDriver.Get":
        out.put("Dir", service.get(id(in)).toString());
        break;
      case "GraphDriver.Put":
        service.put(id(in));
        break;
      case "GraphDriver.Exists":
        out.put("Exists", service.exists(id(in)));
        break;
      case "GraphDriver.Remove":
        service.remove(id(in));
        break;
      case "GraphDriver.GetMetadata":
        out.put("Metadata", service.metadata(id(in)));
        break;
      case "GraphDriver.Cleanup":
        int n = service.cleanup();
        LOG.info("Cleanup from dockerd: released {} outstanding gets", n);
        break;
      case "GraphDriver.Changes":
        List<Map<String, Object>> changes = new ArrayList<>();
        List<Change> found = new ArrayList<>(service.changes(id(in), text(in, "Parent")));
        // In path order, as dockerd's own drivers walk the tree (a parent before its children).
        found.sort((a, b) -> java.util.Arrays.compareUnsigned(a.path(), b.path()));
        for (Change c : found) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("Path", wirePath(c.path()));
          m.put("Kind", c.kind().wire());
          changes.add(m);
        }
        out.put("Changes", changes);
        break;
      case "GraphDriver.DiffSize":
        out.put("Size", service.diffSize(id(in), text(in, "Parent")));
        break;
      case "Layerd.Layers":
        out.put("Layers", service.layers());
        break;
      case "Layerd.Inspect":
        out.put("Layer", service.inspect(id(in)));
        break;
      default:
        respond(
            response,
            callback,
            404,
            err("layerd does not implement " + method + " (it serves the GraphDriver protocol)"));
        return;
    }
    ok(response, callback, out);
  }

  /** Go strings are UTF-8; a name that is not becomes U+FFFD there too. */
  private static String wirePath(byte[] path) {
    return new String(path, StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------ the streamed methods

  private void applyDiff(Request request, Response response, Callback callback) throws IOException {
    Fields q = Request.extractQueryParameters(request);
    String id = q.getValue("id");
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("ApplyDiff without ?id=");
    }
    String parent = q.getValue("parent");
    long size;
    try (InputStream body = Content.Source.asInputStream(request)) {
      try {
        size = service.applyDiff(id, parent == null || parent.isEmpty() ? null : parent, body);
      } catch (IOException | RuntimeException e) {
        // A refusal comes before the body is read: read the rest (as Plugin.Activate does), so
        // that Jetty keeps the connection and dockerd gets the answer, not a broken pipe.
        drain(body, e);
        throw e;
      }
      body.transferTo(OutputStream.nullOutputStream()); // padding after the tar's end
    }
    ok(response, callback, Map.of("Size", size));
  }

  private static void drain(InputStream body, Exception failure) {
    try {
      body.transferTo(OutputStream.nullOutputStream());
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  private void diff(JsonNode in, Response response, Callback callback) throws IOException {
    String id = id(in);
    String parent = text(in, "Parent");
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/x-tar");
    OutputStream sink = Content.Sink.asOutputStream(response);
    // Buffered: nothing reaches dockerd before the first 64 KiB, so a failure that comes early
    // (no such layer, a change that cannot be read) is still a clean error response.
    HoldingStream out = new HoldingStream(sink);
    try {
      service.diff(id, parent, out);
      out.close();
    } catch (IOException | RuntimeException e) {
      if (out.passedAny() || response.isCommitted()) {
        LOG.warn("Diff {}: failed after part of the tar was sent; cutting the stream", id, e);
        callback.failed(e);
        return;
      }
      response.reset();
      throw e;
    }
    callback.succeeded();
  }

  /** Holds the first bytes until 64 KiB are written or the stream is closed. */
  private static final class HoldingStream extends BufferedOutputStream {
    private boolean passed;

    HoldingStream(OutputStream out) {
      super(out, 64 * 1024);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      if (count + len > buf.length) {
        passed = true;
      }
      super.write(b, off, len);
    }

    @Override
    public synchronized void write(int b) throws IOException {
      if (count >= buf.length) {
        passed = true;
      }
      super.write(b);
    }

    @Override
    public synchronized void flush() throws IOException {
      passed = true;
      super.flush();
    }

    boolean passedAny() {
      return passed;
    }
  }

  // ------------------------------------------------------------------ responses

  private void fail(String method, Response response, Callback callback, Exception e) {
    String msg = message(method, e);
    if (expected(e)) {
      LOG.info("{}: {}", method, msg);
    } else {
      LOG.warn("{} failed: {}", method, msg, e);
    }
    if (response.isCommitted()) {
      callback.failed(e);
      return;
    }
    // Diff's 200 body is a tar to dockerd: its errors need another status (see the class doc).
    int status = method.equals("GraphDriver.Diff") ? 500 : 200;
    respond(response, callback, status, err(msg));
  }

  /** Failures that are the caller's (bad ids, missing layers): no stack trace in the log. */
  private static boolean expected(Exception e) {
    return e instanceof IllegalArgumentException
        || e instanceof NoSuchFileException
        || e instanceof FileAlreadyExistsException
        || e instanceof IllegalStateException;
  }

  /** One readable line: what failed, not which Java class. */
  static String message(String method, Throwable e) {
    String m = e.getMessage();
    if (m == null || m.isBlank()) {
      m = e.getClass().getSimpleName();
    }
    if (method.equals("GraphDriver.ApplyDiff") && isEarlyEof(e)) {
      m = "the layer's tar ended early (" + m + "): nothing of it was kept";
    }
    return "layerd: " + m;
  }

  private static boolean isEarlyEof(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.io.EOFException) {
        return true;
      }
    }
    return false;
  }

  private static Map<String, Object> err(String msg) {
    return Map.of("Err", msg);
  }

  private static void ok(Response response, Callback callback, Map<String, ?> body) {
    respond(response, callback, 200, body);
  }

  private static void respond(Response response, Callback callback, int status, Map<String, ?> b) {
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(b);
    } catch (IOException e) {
      callback.failed(e);
      return;
    }
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, PLUGIN_JSON);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    response.write(true, ByteBuffer.wrap(bytes), callback);
  }

  // ------------------------------------------------------------------ requests

  private static JsonNode body(Request request) throws IOException {
    byte[] bytes;
    try (InputStream in = Content.Source.asInputStream(request)) {
      bytes = in.readNBytes(MAX_JSON_BODY + 1);
    }
    if (bytes.length > MAX_JSON_BODY) {
      throw new IllegalArgumentException("request body over " + MAX_JSON_BODY + " bytes");
    }
    if (bytes.length == 0) {
      return JSON.createObjectNode(); // Plugin.Activate and friends send nothing
    }
    JsonNode n;
    try {
      n = JSON.readTree(bytes);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      // The parser's own words and where, without its internals ("at [Source: ...]").
      var at = e.getLocation();
      throw new IllegalArgumentException(
          "the request body is not JSON: "
              + e.getOriginalMessage()
              + (at == null
                  ? ""
                  : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"),
          e);
    }
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException("the request body is not a JSON object");
    }
    return n;
  }

  private static String text(JsonNode in, String field) {
    JsonNode v = in.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException("\"" + field + "\" is not a string");
    }
    String s = v.asText();
    return s.isEmpty() ? null : s;
  }

  private static String id(JsonNode in) {
    String id = text(in, "ID");
    if (id == null) {
      throw new IllegalArgumentException("the request has no \"ID\"");
    }
    return id;
  }

  private static List<String> strings(JsonNode v) {
    List<String> out = new ArrayList<>();
    if (v == null || v.isNull()) {
      return out;
    }
    if (!v.isArray()) {
      throw new IllegalArgumentException("\"Opts\" is not a list of strings");
    }
    for (JsonNode s : v) {
      out.add(s.asText());
    }
    return out;
  }

  private static Map<String, String> stringMap(JsonNode v) {
    Map<String, String> out = new LinkedHashMap<>();
    if (v == null || v.isNull()) {
      return out;
    }
    if (!v.isObject()) {
      throw new IllegalArgumentException("\"StorageOpt\" is not an object");
    }
    for (Map.Entry<String, JsonNode> e : v.properties()) {
      out.put(e.getKey(), e.getValue().asText());
    }
    return out;
  }

  /** Init's UIDMaps/GIDMaps: lists of {container_id, host_id, size}, or null for none. */
  @SuppressWarnings("unchecked")
  static IdMappings maps(JsonNode uid, JsonNode gid) {
    boolean none = (uid == null || uid.isNull()) && (gid == null || gid.isNull());
    if (none) {
      return IdMappings.identity();
    }
    List<Map<String, Object>> u = uid == null ? null : JSON.convertValue(uid, List.class);
    List<Map<String, Object>> g = gid == null ? null : JSON.convertValue(gid, List.class);
    return IdMappings.fromDocker(u, g);
  }
}
