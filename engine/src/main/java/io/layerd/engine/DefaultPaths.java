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
 *   <tr><td>containerd's snapshotter socket</td><td>/run/layerd/snapshotter.sock</td>
 *       <td>under rootlesskit: the same; otherwise $XDG_RUNTIME_DIR/layerd/snapshotter.sock</td></tr>
 *   <tr><td>containerd's root</td><td>/var/lib/containerd</td>
 *       <td>under rootlesskit: the same; otherwise $XDG_DATA_HOME/containerd</td></tr>
 *   <tr><td>containerd's socket</td><td>/run/containerd/containerd.sock</td>
 *       <td>under rootlesskit: the same; otherwise $XDG_RUNTIME_DIR/containerd/containerd.sock</td></tr>
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

  /**
   * containerd's socket, for root and inside rootlesskit's namespace (rootless containerd listens
   * there in its private /run).
   */
  public static final Path CONTAINERD_ADDRESS = Path.of("/run/containerd/containerd.sock");

  /** Where root's layerd serves containerd's snapshotter API unless told otherwise. */
  public static final Path CONTAINERD_SOCKET = Path.of("/run/layerd/snapshotter.sock");

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

  /** containerd's default root: its blob directory is under it. */
  public Path containerdRoot() {
    return realRoot || underRootlesskit
        ? Path.of("/var/lib/containerd")
        : dataHome().resolve("containerd");
  }

  /**
   * containerd's default socket: in /run for root and inside rootlesskit's namespace, else in the
   * user's runtime directory (rootless containerd's place outside the namespace).
   */
  public Path containerdAddress() {
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (realRoot || underRootlesskit || runtime == null || !runtime.startsWith("/")) {
      return CONTAINERD_ADDRESS;
    }
    return Path.of(runtime, "containerd", "containerd.sock");
  }

  /**
   * Where layerd serves containerd's snapshotter API when the settings name no place: as root (and
   * under rootlesskit) /run/layerd/snapshotter.sock, for a user
   * $XDG_RUNTIME_DIR/layerd/snapshotter.sock.
   *
   * @throws IllegalArgumentException for a plain user without {@code XDG_RUNTIME_DIR}
   */
  public Path containerdSocket() {
    if (realRoot || underRootlesskit) {
      return CONTAINERD_SOCKET;
    }
    return runtimeDir("--containerd-socket PATH").resolve("layerd").resolve("snapshotter.sock");
  }

  /**
   * $XDG_RUNTIME_DIR, which must be set and absolute.
   *
   * @param flag the flag that names the place instead, for the error
   * @throws IllegalArgumentException when it is not set
   */
  public Path runtimeDir(String flag) {
    String runtime = env.get("XDG_RUNTIME_DIR");
    if (runtime == null || !runtime.startsWith("/")) {
      throw new IllegalArgumentException(
          "XDG_RUNTIME_DIR is not set, so there is no default for a user: set it (a directory"
              + " of mode 0700 that you own, as systemd's /run/user/UID) or pass "
              + flag);
    }
    return Path.of(runtime);
  }

  /** $XDG_DATA_HOME, else ~/.local/share. */
  public Path dataHome() {
    return xdg("XDG_DATA_HOME", ".local", "share");
  }
}
