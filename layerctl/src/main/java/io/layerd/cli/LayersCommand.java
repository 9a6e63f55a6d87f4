package io.layerd.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.layerd.engine.DataRootException;
import io.layerd.engine.DefaultPaths;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.LayerMeta;
import io.layerd.engine.LayerStore;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.LayerIds;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Transport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerctl layers ls|inspect|rm}: the layers of a layerd data-root. With a running layerd
 * they are asked through its socket (the daemon holds the data-root's lock); without one the
 * data-root is read directly (offline).
 */
@Command(
    name = "layers",
    mixinStandardHelpOptions = true,
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl layers ls",
      "  layerctl layers --data-root /var/lib/layerd inspect ID",
      "  layerctl layers --socket /run/docker/plugins/layerd.sock rm ID"
    },
    description = {
      "The layers a layerd data-root holds: list, inspect, remove.",
      "Online (a layerd listens on --socket, or on the default socket) the daemon answers;"
          + " offline (--data-root, or no daemon) the data-root is read directly, which fails"
          + " while a daemon holds it: use its socket then."
    },
    subcommands = {LayersCommand.Ls.class, LayersCommand.Inspect.class, LayersCommand.Rm.class})
final class LayersCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--socket",
      paramLabel = "PATH",
      scope = CommandLine.ScopeType.INHERIT,
      description =
          "A running layerd's socket (default: /run/docker/plugins/layerd.sock as root,"
              + " $XDG_RUNTIME_DIR/layerd/layerd.sock as a user, when a daemon listens there).")
  Path socket;

  @Option(
      names = "--data-root",
      paramLabel = "DIR",
      scope = CommandLine.ScopeType.INHERIT,
      description =
          "Read this data-root directly (default: /var/lib/layerd as root,"
              + " ~/.local/share/layerd as a user).")
  Path dataRoot;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Where the layers come from: a daemon's socket, or a data-root read directly. */
  private Source source() throws IOException {
    if (socket != null) {
      return new Online(socket);
    }
    Host host = Host.current();
    if (dataRoot != null) {
      return new Offline(dataRoot, null);
    }
    DefaultPaths defaults = DefaultPaths.of(host, System.getenv());
    Path defaultSocket = defaults.socket().orElse(null);
    if (defaultSocket != null && listening(defaultSocket)) {
      return new Online(defaultSocket);
    }
    return new Offline(defaults.dataRoot(), defaultSocket);
  }

  private static boolean listening(Path socket) {
    if (!Files.exists(socket)) {
      return false;
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** The operations, online or offline. Layers are maps in the daemon's JSON shape. */
  private interface Source extends AutoCloseable {
    List<Map<String, Object>> layers() throws IOException;

    Map<String, Object> inspect(String id) throws IOException;

    void remove(String id) throws IOException;

    @Override
    void close() throws IOException;
  }

  /** A running layerd, through its socket: HTTP over the unix socket, as dockerd talks to it. */
  private static final class Online implements Source {
    private final Path socket;
    private final HttpClient http;

    Online(Path socket) throws IOException {
      this.socket = socket;
      // Jetty logs through slf4j (slf4j-simple here): only its warnings belong on our stderr.
      if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
      }
      http = new HttpClient();
      try {
        http.start();
      } catch (Exception e) {
        throw new IOException("cannot start the HTTP client: " + e, e);
      }
    }

    private JsonNode call(String method, Map<String, Object> body) throws IOException {
      ContentResponse r;
      try {
        r =
            http.newRequest("http://localhost/" + method)
                .method(HttpMethod.POST)
                .transport(new Transport.TCPUnix(socket))
                .body(new BytesRequestContent(JSON.writeValueAsBytes(body)))
                .timeout(60, TimeUnit.SECONDS)
                .send();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        throw new IOException("cannot talk to layerd on " + socket + ": " + cause.getMessage(), e);
      }
      JsonNode n = JSON.readTree(r.getContent());
      if (n != null && n.hasNonNull("Err")) {
        String err = n.get("Err").asText();
        // The daemon's "layerd: " prefix is for dockerd's logs; here the message is layerctl's.
        throw new CliException(err.startsWith("layerd: ") ? err.substring(8) : err, 1);
      }
      if (r.getStatus() != 200 || n == null) {
        throw new IOException(socket + " answered " + r.getStatus() + ": is it a layerd?");
      }
      return n;
    }

    @Override
    public List<Map<String, Object>> layers() throws IOException {
      List<Map<String, Object>> out = new ArrayList<>();
      for (JsonNode l : call("Layerd.Layers", Map.of()).get("Layers")) {
        out.add(JSON.convertValue(l, MAP));
      }
      return out;
    }

    @Override
    public Map<String, Object> inspect(String id) throws IOException {
      return JSON.convertValue(call("Layerd.Inspect", Map.of("ID", id)).get("Layer"), MAP);
    }

    @Override
    public void remove(String id) throws IOException {
      // GraphDriver.Remove of a missing layer succeeds (dockerd expects that); a user asking to
      // remove a layer that is not there is told so, as offline.
      call("Layerd.Inspect", Map.of("ID", id));
      call("GraphDriver.Remove", Map.of("ID", id));
    }

    @Override
    public void close() throws IOException {
      try {
        http.stop();
      } catch (Exception e) {
        throw new IOException(e);
      }
    }
  }

  private static final com.fasterxml.jackson.core.type.TypeReference<Map<String, Object>> MAP =
      new com.fasterxml.jackson.core.type.TypeReference<>() {};

  /**
   * The data-root read directly. Listing and inspecting read the layer records only (no recovery,
   * no driver); removing opens the engine.
   */
  private static final class Offline implements Source {
    private final Path root;
    private final Path socketHint;

    Offline(Path root, Path socketHint) {
      this.root = root.toAbsolutePath().normalize();
      this.socketHint = socketHint;
    }

    private IOException explain(DataRootException e) {
      String hint = socketHint != null ? " (default " + socketHint + ")" : "";
      return new IOException(
          e.getMessage()
              + ". A running layerd holds its data-root: ask it through its socket instead:"
              + " layerctl layers --socket PATH ..."
              + hint,
          e);
    }

    private LayerStore store() throws IOException {
      if (!Files.isDirectory(root)) {
        throw new CliException("no layerd data-root at " + root, 1);
      }
      try {
        return LayerStore.open(root);
      } catch (DataRootException e) {
        throw explain(e);
      }
    }

    @Override
    public List<Map<String, Object>> layers() throws IOException {
      try (LayerStore s = store()) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (LayerMeta m : sorted(s.all())) {
          out.add(describe(m));
        }
        return out;
      }
    }

    @Override
    public Map<String, Object> inspect(String id) throws IOException {
      try (LayerStore s = store()) {
        LayerMeta m =
            s.get(LayerIds.check(id))
                .orElseThrow(() -> new CliException("no layer " + id + " in " + root, 1));
        Map<String, Object> out = describe(m);
        out.put("children", s.children(id));
        out.put("applying", m.applying());
        return out;
      }
    }

    @Override
    public void remove(String id) throws IOException {
      if (!Files.isDirectory(root)) {
        throw new CliException("no layerd data-root at " + root, 1);
      }
      Engine e;
      try {
        e = Engine.open(EngineConfig.of(root, null));
      } catch (DataRootException x) {
        throw explain(x);
      }
      try (e) {
        if (!e.exists(id)) {
          throw new CliException("no layer " + id + " in " + root, 1);
        }
        e.remove(id);
      }
    }

    @Override
    public void close() {}

    private static List<LayerMeta> sorted(List<LayerMeta> all) {
      List<LayerMeta> out = new ArrayList<>(all);
      out.sort(Comparator.comparingLong(LayerMeta::created).thenComparing(LayerMeta::id));
      return out;
    }

    /** The shape layerd's Layerd.Layers answers with (without the driver, unknown offline). */
    private static Map<String, Object> describe(LayerMeta m) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("id", m.id());
      out.put("parent", m.parent());
      out.put("kind", m.readWrite() ? "rw" : "ro");
      out.put("diffId", m.diffId());
      out.put("size", m.size());
      out.put("created", Instant.ofEpochMilli(m.created()).toString());
      return out;
    }
  }

  /** {@code layerctl layers ls}. */
  @Command(
      name = "ls",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {
        "  layerctl layers ls --no-trunc",
        "  layerctl layers --data-root ~/.local/share/layerd ls --json"
      },
      description = "List the layers.")
  static final class Ls implements Callable<Integer> {
    @CommandLine.ParentCommand LayersCommand parent;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print a JSON list instead of a table.")
    boolean json;

    @Option(names = "--no-trunc", description = "Show whole layer ids.")
    boolean noTrunc;

    @Override
    public Integer call() throws IOException {
      List<Map<String, Object>> layers;
      try (Source s = parent.source()) {
        layers = s.layers();
      }
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.println(JSON.writeValueAsString(layers));
      } else {
        out.printf("%-18s %-4s %12s  %-24s %s%n", "ID", "KIND", "SIZE", "CREATED", "PARENT");
        for (Map<String, Object> l : layers) {
          out.printf(
              "%-18s %-4s %12s  %-24s %s%n",
              id(l.get("id")),
              l.get("kind"),
              l.get("size"),
              l.get("created"),
              l.get("parent") == null ? "-" : id(l.get("parent")));
        }
      }
      out.flush();
      return 0;
    }

    private String id(Object id) {
      String s = String.valueOf(id);
      if (noTrunc || s.length() <= 12) {
        return s;
      }
      return s.endsWith("-init") ? s.substring(0, 12) + "-init" : s.substring(0, 12);
    }
  }

  /** {@code layerctl layers inspect ID...}. */
  @Command(
      name = "inspect",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {"  layerctl layers inspect ID"},
      description = "Show layers in detail, as JSON.")
  static final class Inspect implements Callable<Integer> {
    @CommandLine.ParentCommand LayersCommand parent;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "ID", arity = "1..*", description = "Layer ids (whole).")
    List<String> ids;

    @Override
    public Integer call() throws IOException {
      List<Map<String, Object>> out = new ArrayList<>();
      try (Source s = parent.source()) {
        for (String id : ids) {
          out.add(s.inspect(id));
        }
      }
      spec.commandLine().getOut().println(JSON.writeValueAsString(out));
      spec.commandLine().getOut().flush();
      return 0;
    }
  }

  /** {@code layerctl layers rm ID...}. */
  @Command(
      name = "rm",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {"  layerctl layers rm ID...   # children first"},
      description =
          "Remove layers (a layer with child layers is refused: remove those first). dockerd"
              + " forgets nothing of this: remove images and containers with docker, not here,"
              + " unless dockerd's own state is gone.")
  static final class Rm implements Callable<Integer>, UsesUserNamespace {
    @CommandLine.ParentCommand LayersCommand parent;
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "ID", arity = "1..*", description = "Layer ids (whole).")
    List<String> ids;

    @Override
    public Integer call() throws IOException {
      int failed = 0;
      try (Source s = parent.source()) {
        for (String id : ids) {
          try {
            s.remove(id);
            spec.commandLine().getOut().println(id);
          } catch (IOException | CliException | IllegalArgumentException e) {
            spec.commandLine()
                .getErr()
                .println("layerctl layers rm: " + id + ": " + e.getMessage());
            failed++;
          }
        }
      }
      spec.commandLine().getOut().flush();
      spec.commandLine().getErr().flush();
      return failed == 0 ? 0 : 1;
    }
  }
}
