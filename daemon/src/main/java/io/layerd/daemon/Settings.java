package io.layerd.daemon;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.engine.DefaultPaths;
import io.layerd.engine.DriverSelector;
import io.layerd.idmap.UnmappedIdPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What one layerd process serves, resolved from (highest first) the command line, the config file
 * and the defaults.
 *
 * <h2>Defaults, like rootless Docker's</h2>
 *
 * <p>{@link DefaultPaths}: /var/lib/layerd, /run/docker/plugins/layerd.sock and
 * /etc/layerd/config.json for root; the XDG places for a user.
 *
 * <h2>The config file</h2>
 *
 * <p>A JSON object; every key is optional and an unknown key is an error (a typo must not pass
 * silently):
 *
 * <pre>{@code
 * {
 *   "data-root": "/srv/layerd",
 *   "socket": "/run/docker/plugins/layerd.sock",
 *   "driver": "overlay2",
 *   "storage-opts": {"overlay2.some_option": "value"},
 *   "on-unmapped-id": "fail",
 *   "log-level": "info",
 *   "shutdown-timeout-seconds": 30,
 *   "containerd-socket": "/run/layerd/snapshotter.sock",
 *   "containerd-root": "/var/lib/containerd",
 *   "containerd-address": "/run/containerd/containerd.sock",
 *   "diff-compression": "fast"
 * }
 * }</pre>
 *
 * @param dataRoot the engine's data-root
 * @param socket the unix socket dockerd connects to
 * @param driver an explicit driver, or null to let the engine choose
 * @param options driver options ({@code name.key=value} pairs as Docker's --storage-opt)
 * @param unmappedIds what ApplyDiff does with an owner the id mapping cannot represent
 * @param logLevel slf4j-simple's level: trace, debug, info, warn, error
 * @param shutdownTimeout how long SIGTERM waits for requests in flight
 * @param containerdSocket where containerd's snapshotter and diff APIs are served (a proxy
 *     snapshotter and differ), or null for not at all
 * @param containerdRoot containerd's root directory, whose blob directory the differ reads layers
 *     from ({@code /var/lib/containerd}; a user's: {@code $XDG_DATA_HOME/containerd})
 * @param containerdAddress containerd's own socket, through whose content service the differ writes
 *     the layers of commits ({@code /run/containerd/containerd.sock})
 * @param diffCompression how the differ compresses the layers it writes: {@code fast} (ISA-L's
 *     deflate where it is installed) or {@code small} (no larger than containerd's walking
 *     differ's); see {@link DiffCompression}
 */
public record Settings(
    Path dataRoot,
    Path socket,
    String driver,
    Map<String, String> options,
    UnmappedIdPolicy unmappedIds,
    String logLevel,
    Duration shutdownTimeout,
    Path containerdSocket,
    Path containerdRoot,
    Path containerdAddress,
    DiffCompression diffCompression) {

  /** The plugin's name: dockerd runs with {@code --storage-driver layerd}. */
  public static final String PLUGIN_NAME = "layerd";

  private static final Set<String> CONFIG_KEYS =
      Set.of(
          "data-root",
          "socket",
          "driver",
          "storage-opts",
          "on-unmapped-id",
          "unmapped-ids",
          "log-level",
          "shutdown-timeout-seconds",
          "containerd-socket",
          "containerd-root",
          "containerd-address",
          "diff-compression");

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

  public Settings {
    Objects.requireNonNull(dataRoot, "dataRoot");
    Objects.requireNonNull(socket, "socket");
    options = Map.copyOf(options);
    Objects.requireNonNull(unmappedIds, "unmappedIds");
    Objects.requireNonNull(logLevel, "logLevel");
    Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
    Objects.requireNonNull(diffCompression, "diffCompression");
  }

  /** Settings for tests and embedding: the given data-root, socket and driver, defaults else. */
  public static Settings of(Path dataRoot, Path socket, String driver) {
    return new Settings(
        dataRoot,
        socket,
        driver,
        Map.of(),
        UnmappedIdPolicy.FAIL,
        "info",
        Duration.ofSeconds(30),
        null,
        null,
        null,
        DiffCompression.FAST);
  }

  /** The same settings, serving containerd's snapshotter API on {@code socket} too. */
  public Settings withContainerdSocket(Path socket) {
    return withContainerd(socket, containerdRoot, containerdAddress, diffCompression);
  }

  /**
   * The same settings, with containerd's root (where the differ reads layers) and socket (where it
   * writes them).
   */
  public Settings withContainerd(Path root, Path address) {
    return withContainerd(containerdSocket, root, address, diffCompression);
  }

  /** The same settings, the differ compressing as {@code compression} says. */
  public Settings withDiffCompression(DiffCompression compression) {
    return withContainerd(containerdSocket, containerdRoot, containerdAddress, compression);
  }

  private Settings withContainerd(
      Path served, Path root, Path address, DiffCompression compression) {
    return new Settings(
        dataRoot,
        socket,
        driver,
        options,
        unmappedIds,
        logLevel,
        shutdownTimeout,
        served,
        root,
        address,
        compression);
  }

  /** What the command line said; null fields were not given. */
  public record Flags(
      Path dataRoot,
      Path socket,
      String driver,
      Map<String, String> options,
      UnmappedIdPolicy unmappedIds,
      String logLevel,
      Duration shutdownTimeout,
      Path containerdSocket,
      Path containerdRoot,
      Path containerdAddress,
      DiffCompression diffCompression) {}

  /**
   * Resolves the settings: the flags over the config file over the defaults. {@code config} is the
   * file given with --config (it must exist), or null for the default one (read when it exists).
   */
  public static Settings resolve(Flags flags, Path config, DefaultPaths environment)
      throws IOException {
    Path file = config != null ? config : environment.config();
    JsonNode cfg = readConfig(file, config != null);
    Path dataRoot = first(flags.dataRoot(), path(cfg, "data-root", file), environment.dataRoot());
    Path socket = flags.socket() != null ? flags.socket() : path(cfg, "socket", file);
    if (socket == null) {
      socket =
          environment
              .socket()
              .orElseThrow(
                  () ->
                      new IllegalArgumentException(
                          "XDG_RUNTIME_DIR is not set, so there is no default socket for a user:"
                              + " set it (a directory of mode 0700 that you own, as systemd's"
                              + " /run/user/UID) or pass --socket PATH"));
    }
    DriverSelector.Explicit explicit =
        DriverSelector.explicitChoice(flags.driver(), text(cfg, "driver", file), environment.env());
    String driver = explicit == null ? null : explicit.driver();
    Map<String, String> options = new LinkedHashMap<>(storageOpts(cfg, file));
    if (flags.options() != null) {
      options.putAll(flags.options());
    }
    // "on-unmapped-id", as the flag; "unmapped-ids" is its earlier name
    String unmapped =
        first(text(cfg, "on-unmapped-id", file), text(cfg, "unmapped-ids", file), null);
    UnmappedIdPolicy policy =
        flags.unmappedIds() != null
            ? flags.unmappedIds()
            : unmapped != null ? parsePolicy(unmapped, file) : UnmappedIdPolicy.FAIL;
    String level = first(flags.logLevel(), text(cfg, "log-level", file), "info");
    Duration timeout = flags.shutdownTimeout();
    if (timeout == null) {
      JsonNode t = cfg.get("shutdown-timeout-seconds");
      if (t != null && !t.canConvertToLong()) {
        throw new IOException(file + ": \"shutdown-timeout-seconds\" is not a whole number");
      }
      timeout = Duration.ofSeconds(t == null ? 30 : t.asLong());
    }
    Path containerd =
        flags.containerdSocket() != null
            ? flags.containerdSocket()
            : path(cfg, "containerd-socket", file);
    Path ctdRoot =
        first(
            flags.containerdRoot(),
            path(cfg, "containerd-root", file),
            environment.containerdRoot());
    Path ctdAddress =
        first(
            flags.containerdAddress(),
            path(cfg, "containerd-address", file),
            environment.containerdAddress());
    String compressionText = text(cfg, "diff-compression", file);
    DiffCompression compression =
        flags.diffCompression() != null
            ? flags.diffCompression()
            : compressionText != null
                ? parseCompression(compressionText, file)
                : DiffCompression.FAST;
    return new Settings(
        dataRoot.toAbsolutePath().normalize(),
        socket.toAbsolutePath().normalize(),
        driver,
        options,
        policy,
        level,
        timeout,
        containerd == null || containerd.toString().isEmpty()
            ? null
            : containerd.toAbsolutePath().normalize(),
        ctdRoot.toAbsolutePath().normalize(),
        ctdAddress.toAbsolutePath().normalize(),
        compression);
  }

  private static JsonNode readConfig(Path file, boolean required) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      if (required) {
        throw new NoSuchFileException(file.toString(), null, "the config file does not exist");
      }
      return JSON.createObjectNode();
    }
    JsonNode n;
    try {
      n = JSON.readTree(bytes);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IOException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
    }
    if (n == null || n.isMissingNode()) {
      return JSON.createObjectNode();
    }
    if (!n.isObject()) {
      throw new IOException(file + ": the config must be a JSON object");
    }
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!CONFIG_KEYS.contains(k)) {
        throw new IOException(
            file + ": unknown key \"" + k + "\" (known: " + String.join(", ", sorted()) + ")");
      }
    }
    return n;
  }

  private static java.util.List<String> sorted() {
    return CONFIG_KEYS.stream().sorted().toList();
  }

  private static String text(JsonNode cfg, String key, Path file) throws IOException {
    JsonNode v = cfg.get(key);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw new IOException(file + ": \"" + key + "\" must be a string");
    }
    return v.asText();
  }

  private static Path path(JsonNode cfg, String key, Path file) throws IOException {
    String s = text(cfg, key, file);
    if (s == null) {
      return null;
    }
    if (!s.startsWith("/")) {
      throw new IOException(file + ": \"" + key + "\" must be an absolute path, not " + s);
    }
    return Path.of(s);
  }

  private static Map<String, String> storageOpts(JsonNode cfg, Path file) throws IOException {
    JsonNode v = cfg.get("storage-opts");
    Map<String, String> out = new LinkedHashMap<>();
    if (v == null || v.isNull()) {
      return out;
    }
    if (!v.isObject()) {
      throw new IOException(file + ": \"storage-opts\" must be an object of strings");
    }
    for (Map.Entry<String, JsonNode> e : v.properties()) {
      if (!e.getValue().isTextual()) {
        throw new IOException(file + ": storage-opts \"" + e.getKey() + "\" must be a string");
      }
      out.put(e.getKey(), e.getValue().asText());
    }
    return out;
  }

  private static UnmappedIdPolicy parsePolicy(String s, Path file) throws IOException {
    try {
      return UnmappedIdPolicy.parse(s);
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  private static DiffCompression parseCompression(String s, Path file) throws IOException {
    try {
      return DiffCompression.parse(s, file + ": \"diff-compression\"");
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  private static <T> T first(T a, T b, T c) {
    return a != null ? a : b != null ? b : c;
  }
}
