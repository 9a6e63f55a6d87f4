package io.layerd.daemon.containerd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A containerd 2.x config (TOML, {@code version = 3}) that makes layerd one of containerd's
 * snapshotters: what {@code layerd config containerd} prints and what the end-to-end tests start
 * the real containerd with.
 *
 * <pre>{@code
 * String toml = ContainerdConfig.builder()
 *     .layerd(Path.of("/run/layerd/snapshotter.sock"), Path.of("/var/lib/layerd"))
 *     .build()
 *     .toToml();
 * }</pre>
 *
 * <p>What it holds:
 *
 * <ul>
 *   <li>containerd's own {@code root}, {@code state} and {@code [grpc] address} (containerd's
 *       defaults unless given);
 *   <li>each proxy plugin: {@code [proxy_plugins.NAME]} with its {@code type} ({@code snapshot};
 *       {@code diff} from containerd 2.0), {@code address}, {@code capabilities} and {@code
 *       exports} (a snapshotter's {@code root}: where its data lives, which containerd reports);
 *   <li>the transfer service's {@code unpack_config}: containerd's default entry (overlayfs on the
 *       host's platform), then one per snapshotter added with {@link Builder#unpack}. Without an
 *       entry, {@code ctr images import --snapshotter layerd} fails with "no unpack platforms
 *       defined"; an entry for a platform other than the host's (linux/arm64 on amd64) stops the
 *       transfer plugin from loading ("no matching diff plugins");
 *   <li>layerd's differ ({@link Builder#layerdDiffer}): {@code [proxy_plugins.layerd-diff]} of type
 *       {@code diff}, {@code [plugins."io.containerd.service.v1.diff-service"] default =
 *       ["layerd-diff", "walking"]}, and {@code differ = "layerd-diff"} in layerd's unpack entry;
 *   <li>whatever else a caller sets with {@link Builder#plugin}.
 * </ul>
 *
 * <p>The text is written by Jackson's TOML writer, which uses dotted keys ({@code
 * proxy_plugins.layerd.type = 'snapshot'}) and inline tables rather than {@code [table]} headers:
 * the same document to containerd. It is a whole config file; to merge it into an existing one, put
 * its lines before the first {@code [table]} header there.
 */
public final class ContainerdConfig {
  /** The snapshotter's name in containerd ({@code --snapshotter layerd}, dockerd's driver). */
  public static final String SNAPSHOTTER_NAME = "layerd";

  /**
   * containerd's transfer service, whose {@code unpack_config} lists the unpacking snapshotters.
   */
  public static final String TRANSFER_PLUGIN = "io.containerd.transfer.v1.local";

  /** containerd's default snapshotter on Linux, kept in the transfer service's list. */
  public static final String DEFAULT_SNAPSHOTTER = "overlayfs";

  /** layerd's differ's name in containerd (a proxy plugin of type {@code diff}). */
  public static final String DIFFER_NAME = "layerd-diff";

  /** containerd's diff service, whose {@code default} list is the differ chain. */
  public static final String DIFF_SERVICE = "io.containerd.service.v1.diff-service";

  /** containerd's own differ, last in the chain: it serves whatever layerd's declines. */
  public static final String WALKING_DIFFER = "walking";

  /** containerd's CRI plugin, which tests disable. */
  public static final String CRI_PLUGIN = "io.containerd.grpc.v1.cri";

  private static final TomlMapper TOML = new TomlMapper();

  /**
   * A {@code [proxy_plugins.NAME]} entry.
   *
   * @param name the plugin's name in containerd
   * @param type {@code snapshot}, or {@code diff} (containerd 2.0 and later)
   * @param address the unix socket it is served on
   * @param capabilities what containerd may rely on (a proxy's come only from here)
   * @param exports the plugin's exports (a snapshotter's {@code root})
   */
  public record ProxyPlugin(
      String name,
      String type,
      Path address,
      List<String> capabilities,
      Map<String, String> exports) {
    public ProxyPlugin {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(type, "type");
      Objects.requireNonNull(address, "address");
      capabilities = List.copyOf(capabilities);
      exports = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(exports));
    }

    /** A snapshotter served on {@code address}, keeping its data in {@code root}. */
    public static ProxyPlugin snapshot(
        String name, Path address, Path root, List<String> capabilities) {
      return new ProxyPlugin(
          name, "snapshot", address, capabilities, Map.of("root", root.toString()));
    }
  }

  private final ObjectNode tree;

  private ContainerdConfig(ObjectNode tree) {
    this.tree = tree;
  }

  /** A builder with containerd's default locations and the host's platform. */
  public static Builder builder() {
    return new Builder();
  }

  /** The document, as containerd reads it. */
  public ObjectNode tree() {
    return tree.deepCopy();
  }

  /** The TOML text. */
  public String toToml() {
    try {
      return TOML.writeValueAsString(tree);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the containerd config as TOML", e);
    }
  }

  /** Reads TOML text (a config this class wrote, or any other) as a tree. */
  public static ObjectNode parse(String toml) throws JsonProcessingException {
    JsonNode n = TOML.readTree(toml);
    if (!(n instanceof ObjectNode o)) {
      throw new IllegalArgumentException("not a TOML document: " + toml);
    }
    return o;
  }

  /**
   * The host's platform as containerd's {@code platforms.DefaultString()} names it: linux/amd64,
   * linux/arm64/v8, linux/ARCH.
   */
  public static String hostPlatform() {
    return platformOf(System.getProperty("os.arch"));
  }

  static String platformOf(String javaArch) {
    String a = javaArch.toLowerCase(Locale.ROOT);
    return switch (a) {
      case "amd64", "x86_64" -> "linux/amd64";
      case "aarch64", "arm64" -> "linux/arm64/v8";
      case "x86", "i386", "i686" -> "linux/386";
      default -> "linux/" + a;
    };
  }

  /** Builds a {@link ContainerdConfig}. */
  public static final class Builder {
    private Path root = Path.of("/var/lib/containerd");
    private Path state = Path.of("/run/containerd");
    private Path address = Path.of("/run/containerd/containerd.sock");
    private String platform = hostPlatform();
    private final List<String> disabledPlugins = new ArrayList<>();
    private final List<ProxyPlugin> proxies = new ArrayList<>();
    private final List<String> unpackSnapshotters = new ArrayList<>(List.of(DEFAULT_SNAPSHOTTER));
    private final Map<String, Map<String, Object>> plugins = new LinkedHashMap<>();
    private final Map<String, String> unpackDiffers = new LinkedHashMap<>();

    private Builder() {}

    /** containerd's {@code root} (persistent data). Default /var/lib/containerd. */
    public Builder root(Path root) {
      this.root = absolute(root, "root");
      return this;
    }

    /** containerd's {@code state} (run-time data). Default /run/containerd. */
    public Builder state(Path state) {
      this.state = absolute(state, "state");
      return this;
    }

    /** containerd's gRPC socket. Default /run/containerd/containerd.sock. */
    public Builder address(Path address) {
      this.address = absolute(address, "address");
      return this;
    }

    /** The platform of the transfer service's unpack entries. Default: the host's. */
    public Builder platform(String platform) {
      this.platform = Objects.requireNonNull(platform, "platform");
      return this;
    }

    /** Plugins containerd must not load (by id, e.g. {@link #CRI_PLUGIN}). */
    public Builder disable(String... pluginIds) {
      disabledPlugins.addAll(List.of(pluginIds));
      return this;
    }

    /**
     * layerd's snapshotter: {@code [proxy_plugins.layerd]} on {@code socket} with layerd's
     * capabilities ({@link SnapshotterServer#capabilities}: layerd serves containerd as root of its
     * user namespace, real root or rootless) and {@code exports.root = dataRoot}, and an unpack
     * entry for it.
     */
    public Builder layerd(Path socket, Path dataRoot) {
      return layerd(socket, dataRoot, SnapshotterServer.capabilities(true));
    }

    /** {@link #layerd(Path, Path)} with the capabilities given (a proxy's come only from here). */
    public Builder layerd(Path socket, Path dataRoot, List<String> capabilities) {
      return proxyPlugin(
              ProxyPlugin.snapshot(
                  SNAPSHOTTER_NAME,
                  absolute(socket, "layerd's socket"),
                  absolute(dataRoot, "layerd's data-root"),
                  capabilities))
          .unpack(SNAPSHOTTER_NAME);
    }

    /**
     * layerd's differ on {@code socket} (layerd serves it beside its snapshotter): {@code
     * [proxy_plugins.layerd-diff]} of type {@code diff}, first in the diff service's chain with
     * containerd's walking differ after it ({@code default = ["layerd-diff", "walking"]}: what
     * layerd declines, the walking differ serves), and the differ of layerd's unpack entry (the
     * transfer service behind {@code ctr images import} takes one differ per entry and has no
     * chain: layerd's mounts and the blobs of an import are always layerd's to apply).
     */
    public Builder layerdDiffer(Path socket) {
      proxyPlugin(
          new ProxyPlugin(
              DIFFER_NAME, "diff", absolute(socket, "layerd's socket"), List.of(), Map.of()));
      plugin(DIFF_SERVICE, "default", List.of(DIFFER_NAME, WALKING_DIFFER));
      unpack(SNAPSHOTTER_NAME);
      unpackDiffers.put(SNAPSHOTTER_NAME, DIFFER_NAME);
      return this;
    }

    /** Any proxy plugin (a snapshotter, a differ). */
    public Builder proxyPlugin(ProxyPlugin p) {
      for (ProxyPlugin q : proxies) {
        if (q.name().equals(p.name())) {
          throw new IllegalArgumentException("proxy plugin " + p.name() + " is given twice");
        }
      }
      proxies.add(p);
      return this;
    }

    /** An unpack entry of the transfer service for {@code snapshotter} on the platform. */
    public Builder unpack(String snapshotter) {
      if (!unpackSnapshotters.contains(snapshotter)) {
        unpackSnapshotters.add(snapshotter);
      }
      return this;
    }

    /**
     * A setting of a built-in plugin: {@code [plugins."ID"] KEY = VALUE}; the value is a string,
     * number, boolean or a list of those.
     */
    public Builder plugin(String id, String key, Object value) {
      plugins.computeIfAbsent(id, k -> new LinkedHashMap<>()).put(key, value);
      return this;
    }

    public ContainerdConfig build() {
      JsonNodeFactory f = JsonNodeFactory.instance;
      ObjectNode t = f.objectNode();
      t.put("version", 3);
      t.put("root", root.toString());
      t.put("state", state.toString());
      if (!disabledPlugins.isEmpty()) {
        ArrayNode d = t.putArray("disabled_plugins");
        disabledPlugins.forEach(d::add);
      }
      t.putObject("grpc").put("address", address.toString());
      if (!proxies.isEmpty()) {
        ObjectNode pp = t.putObject("proxy_plugins");
        for (ProxyPlugin p : proxies) {
          ObjectNode n = pp.putObject(p.name());
          n.put("type", p.type());
          n.put("address", p.address().toString());
          if (!p.capabilities().isEmpty()) {
            ArrayNode c = n.putArray("capabilities");
            p.capabilities().forEach(c::add);
          }
          if (!p.exports().isEmpty()) {
            ObjectNode e = n.putObject("exports");
            p.exports().forEach(e::put);
          }
        }
      }
      ObjectNode ps = t.putObject("plugins");
      ArrayNode unpack = ps.putObject(TRANSFER_PLUGIN).putArray("unpack_config");
      for (String s : unpackSnapshotters) {
        ObjectNode u = unpack.addObject().put("platform", platform).put("snapshotter", s);
        if (unpackDiffers.containsKey(s)) {
          u.put("differ", unpackDiffers.get(s));
        }
      }
      for (Map.Entry<String, Map<String, Object>> e : plugins.entrySet()) {
        ObjectNode n =
            ps.has(e.getKey()) ? (ObjectNode) ps.get(e.getKey()) : ps.putObject(e.getKey());
        e.getValue().forEach((k, v) -> n.set(k, value(f, k, v)));
      }
      return new ContainerdConfig(t);
    }

    private static JsonNode value(JsonNodeFactory f, String key, Object v) {
      if (v instanceof String s) {
        return f.textNode(s);
      } else if (v instanceof Boolean b) {
        return f.booleanNode(b);
      } else if (v instanceof Integer i) {
        return f.numberNode(i);
      } else if (v instanceof Long l) {
        return f.numberNode(l);
      } else if (v instanceof List<?> list) {
        ArrayNode a = f.arrayNode();
        for (Object o : list) {
          a.add(value(f, key, o));
        }
        return a;
      }
      throw new IllegalArgumentException(
          "plugin setting " + key + ": a string, number, boolean or list, not " + v);
    }

    private static Path absolute(Path p, String what) {
      if (p == null || !p.isAbsolute()) {
        throw new IllegalArgumentException(what + " must be an absolute path, not " + p);
      }
      return p.normalize();
    }
  }
}
