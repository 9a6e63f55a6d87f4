package io.layerd.engine;

import io.layerd.engine.spi.Host;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where layerd keeps its data-root, its config and its socket when not told, as (rootless) Docker
 * chooses its own places: the one computation the daemon and layerctl share.
 *
 * <table>
 *   <caption>Defaults</caption>
 *   <tr><th></th><th>real root</th><th>a user (rootless)</th></tr>
 *   <tr><td>data-root</td><td>/var/lib/layerd</td>
 *       <td>$XDG_DATA_HOME/layerd, else ~/.local/share/layerd</td></tr>
 *   <tr><td>config</td><td>/etc/layerd/config.json</td>
 *       <td>$XDG_CONFIG_HOME/layerd/config.json, else ~/.config/layerd/config.json</td></tr>
 *   <tr><td>socket</td><td>/run/docker/plugins/layerd.sock</td>
 *       <td>under rootlesskit: /run/docker/plugins/layerd.sock (its private /run, where the
 *       rootless dockerd beside it looks); otherwise $XDG_RUNTIME_DIR/layerd/layerd.sock</td></tr>
 * </table>
 *
 * @param realRoot euid 0 in the initial user namespace
 * @param underRootlesskit inside rootlesskit's user namespace ({@code ROOTLESSKIT_STATE_DIR} set)
 * @param env the environment ({@code XDG_*} variables)
 * @param home the user's home directory
 */
public record DefaultPaths(
    boolean realRoot, boolean underRootlesskit, Map<String, String> env, String home) {

  /** Where dockerd looks for plugins' sockets. */
  public static final Path DOCKER_PLUGIN_SOCKET = Path.of("/run/docker/plugins/layerd.sock");

  public DefaultPaths {
    env = Map.copyOf(env);
  }

  /** For this process: euid 0 in the initial user namespace is real root. */
  public static DefaultPaths current(boolean euidZero, boolean inUserNamespace) {
    return of(euidZero, inUserNamespace, System.getenv());
  }

  /** For a host's facts and an environment. */
  public static DefaultPaths of(Host host, Map<String, String> env) {
    return of(host.root(), host.inUserNamespace(), env);
  }

  private static DefaultPaths of(
      boolean euidZero, boolean inUserNamespace, Map<String, String> env) {
    return new DefaultPaths(
        euidZero && !inUserNamespace,
        inUserNamespace && env.containsKey("ROOTLESSKIT_STATE_DIR"),
        env,
        env.getOrDefault("HOME", System.getProperty("user.home")));
  }

  private Path xdg(String var, String... fallback) {
    String v = env.get(var);
    if (v != null && v.startsWith("/")) {
      return Path.of(v);
    }
    return Path.of(home, fallback);
  }

  /** The default data-root. */
  public Path dataRoot() {
    return realRoot
        ? Path.of("/var/lib/layerd")
        : xdg("XDG_DATA_HOME", ".local", "share").resolve("layerd");
  }

  /** The default config file. */
  public Path config() {
    return realRoot
        ? Path.of("/etc/layerd/config.json")
        : xdg("XDG_CONFIG_HOME", ".config").resolve("layerd").resolve("config.json");
  }

  /** The default socket; none for a plain user without {@code XDG_RUNTIME_DIR}. */
  public Optional<Path> socket() {
    if (realRoot || underRootlesskit) {
      return Optional.of(DOCKER_PLUGIN_SOCKET);
    }
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (runtime == null || !runtime.startsWith("/")) {
      return Optional.empty();
    }
    return Optional.of(Path.of(runtime, "layerd", "layerd.sock"));
  }
}
