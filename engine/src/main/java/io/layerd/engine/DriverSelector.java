package io.layerd.engine;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * Chooses a driver for a data-root, and says why: an explicit choice (--driver, the config, or
 * LAYERD_DRIVER; see {@link #explicitChoice}) first; else the one driver whose state already exists
 * in the data-root; else the first usable driver by priority (overlay2, fuse-overlayfs, btrfs,
 * vfs). Every driver is probed for real; only a typed {@link DriverRefusal} moves the choice on —
 * any other failure stops it.
 *
 * <p>Probe verdicts are cached in the data-root ({@value #CACHE_FILE}) under a key of the kernel
 * release, the effective uid, whether we run in a user namespace, the data-root's path, filesystem
 * magic, mount and mount options, the drivers installed (name, priority and what each says its
 * probe depends on, such as a helper binary) and the storage options: {@link Probing#CACHED} uses
 * the cache when its key matches (Engine.open does), {@link Probing#FRESH} always probes and
 * rewrites it ({@code layerctl driver probe} does). Whether a driver has state is never cached.
 */
public final class DriverSelector {
  private DriverSelector() {}

  /** The probe cache's file name in the data-root. */
  public static final String CACHE_FILE = "probe-cache.json";

  /**
   * Bumped when the cache's shape changes; a cache of another version is ignored. 2: the mount, its
   * options and the drivers' probe inputs joined the key.
   */
  static final int CACHE_VERSION = 2;

  private static final ObjectMapper JSON =
      new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  /** Whether probe verdicts may come from the data-root's cache. */
  public enum Probing {
    /** Use the cached verdicts when the cache's key matches this host; else probe and cache. */
    CACHED,
    /** Probe every driver afresh and rewrite the cache. */
    FRESH
  }

  /**
   * An explicit choice of driver, and where it came from, as messages name it: "--driver", "the
   * config file", "LAYERD_DRIVER", "the engine's configuration".
   */
  public record Explicit(String driver, String source) {}

  /**
   * The explicit choice, in order: the command-line flag, the config file's value, the {@code
   * LAYERD_DRIVER} environment variable; null when none is given (empty values do not count).
   */
  public static Explicit explicitChoice(String flag, String config, Map<String, String> env) {
    if (flag != null && !flag.isBlank()) {
      return new Explicit(flag.strip(), "--driver");
    }
    if (config != null && !config.isBlank()) {
      return new Explicit(config.strip(), "the config file");
    }
    String e = env.get("LAYERD_DRIVER");
    if (e != null && !e.isBlank()) {
      return new Explicit(e.strip(), "LAYERD_DRIVER");
    }
    return null;
  }

  /** One driver's verdict. */
  public record Verdict(
      String name,
      int priority,
      boolean usable,
      boolean hasState,
      String refusal,
      List<String> reasons) {
    public Verdict {
      reasons = List.copyOf(reasons);
    }

    Verdict withState(boolean state) {
      return new Verdict(name, priority, usable, state, refusal, reasons);
    }
  }

  /**
   * The choice and every verdict behind it; {@code cached} is true when the verdicts came from the
   * data-root's probe cache.
   */
  public record Selection(String chosen, String why, List<Verdict> drivers, boolean cached) {
    public Selection {
      drivers = List.copyOf(drivers);
    }

    public Verdict verdict(String name) {
      return drivers.stream().filter(v -> v.name().equals(name)).findFirst().orElse(null);
    }
  }

  /**
   * No driver can be chosen (the explicit one is unknown or unusable, several drivers hold state,
   * or none is usable); carries every verdict so that the failure can be explained.
   */
  public static final class SelectionFailure extends IOException {
    private static final long serialVersionUID = 1L;
    private final transient List<Verdict> drivers;

    SelectionFailure(List<Verdict> drivers, String message) {
      super(message);
      this.drivers = List.copyOf(drivers);
    }

    /** Every driver's verdict, in priority order. */
    public List<Verdict> drivers() {
      return drivers;
    }
  }

  /** Every driver on the class path, by priority. */
  public static List<DriverProvider> installed() {
    List<DriverProvider> out = new ArrayList<>();
    for (DriverProvider p : ServiceLoader.load(DriverProvider.class)) {
      out.add(p);
    }
    out.sort(Comparator.comparingInt(DriverProvider::priority));
    return out;
  }

  /** The context a driver gets in this data-root. */
  public static DriverContext context(
      Path dataRoot, DriverProvider p, Host host, Map<String, String> options) {
    return new DriverContext(dataRoot, dataRoot.resolve(p.name()), host, options);
  }

  /** Probes every driver afresh ({@link Probing#FRESH}) and chooses one. */
  public static Selection select(
      Path dataRoot,
      Host host,
      String explicit,
      Map<String, String> options,
      List<DriverProvider> providers)
      throws IOException {
    Explicit e =
        explicit == null || explicit.isEmpty() ? null : new Explicit(explicit, "the caller");
    return select(dataRoot, host, e, options, providers, Probing.FRESH);
  }

  /**
   * Probes every driver, in priority order whatever the order given (or takes the verdicts from the
   * cache, as {@code probing} allows), and chooses one; fails with every reason when none will do.
   * {@code explicit} may be null.
   */
  public static Selection select(
      Path dataRoot,
      Host host,
      Explicit explicit,
      Map<String, String> options,
      List<DriverProvider> given,
      Probing probing)
      throws IOException {
    List<DriverProvider> providers = new ArrayList<>(given);
    providers.sort(Comparator.comparingInt(DriverProvider::priority)); // stable
    CacheKey key = CacheKey.of(dataRoot, host, options, providers);
    List<Verdict> verdicts = probing == Probing.CACHED ? readCache(dataRoot, key) : null;
    boolean cached = verdicts != null;
    if (!cached) {
      verdicts = new ArrayList<>();
      for (DriverProvider p : providers) {
        verdicts.add(probe(dataRoot, p, host, options));
      }
      writeCache(dataRoot, key, verdicts);
    }
    List<Verdict> withState = new ArrayList<>();
    for (int i = 0; i < providers.size(); i++) {
      DriverProvider p = providers.get(i);
      DriverContext ctx = context(dataRoot, p, host, options);
      withState.add(verdicts.get(i).withState(Files.isDirectory(ctx.home()) && p.hasState(ctx)));
    }
    return choose(dataRoot, explicit, providers, withState, cached);
  }

  private static Selection choose(
      Path dataRoot,
      Explicit explicit,
      List<DriverProvider> providers,
      List<Verdict> verdicts,
      boolean cached)
      throws IOException {
    if (explicit != null) {
      String name = explicit.driver();
      Verdict v = verdicts.stream().filter(x -> x.name().equals(name)).findFirst().orElse(null);
      if (v == null) {
        throw new SelectionFailure(
            verdicts,
            "unknown storage driver '"
                + name
                + "' (chosen by "
                + explicit.source()
                + "): choose one of "
                + String.join(", ", names(providers)));
      }
      if (!v.usable()) {
        throw new SelectionFailure(
            verdicts,
            "storage driver "
                + name
                + " was chosen ("
                + explicit.source()
                + ") but cannot be used here: "
                + v.refusal()
                + ": "
                + String.join("; ", v.reasons()));
      }
      return new Selection(
          name, name + " was chosen explicitly (by " + explicit.source() + ")", verdicts, cached);
    }
    List<Verdict> withState = verdicts.stream().filter(Verdict::hasState).toList();
    if (withState.size() > 1) {
      throw new SelectionFailure(
          verdicts,
          "data-root "
              + dataRoot
              + " holds the state of several drivers ("
              + String.join(", ", withState.stream().map(Verdict::name).toList())
              + "): choose one with --driver, and move the others' directories away");
    }
    if (withState.size() == 1) {
      Verdict v = withState.get(0);
      if (!v.usable()) {
        throw new SelectionFailure(
            verdicts,
            "data-root "
                + dataRoot
                + " holds "
                + v.name()
                + " layers, but "
                + v.name()
                + " cannot be used here: "
                + v.refusal()
                + ": "
                + String.join("; ", v.reasons())
                + ". Fix that, or choose another driver with --driver (the "
                + v.name()
                + " layers will not be visible to it)");
      }
      return new Selection(
          v.name(), "the data-root already holds " + v.name() + " layers", verdicts, cached);
    }
    for (Verdict v : verdicts) {
      if (v.usable()) {
        return new Selection(
            v.name(), v.name() + " is the first usable driver by priority", verdicts, cached);
      }
    }
    StringBuilder sb = new StringBuilder("no storage driver can be used in " + dataRoot + ":");
    for (Verdict v : verdicts) {
      sb.append("\n  ")
          .append(v.name())
          .append(": ")
          .append(v.refusal())
          .append(": ")
          .append(String.join("; ", v.reasons()));
    }
    throw new SelectionFailure(verdicts, sb.toString());
  }

  private static List<String> names(List<DriverProvider> providers) {
    return providers.stream().map(DriverProvider::name).toList();
  }

  private static Verdict probe(
      Path dataRoot, DriverProvider p, Host host, Map<String, String> options) throws IOException {
    DriverContext ctx = context(dataRoot, p, host, options);
    try {
      Probe probe = p.probe(ctx);
      return new Verdict(p.name(), p.priority(), true, false, null, probe.reasons());
    } catch (DriverRefusal r) {
      return new Verdict(
          p.name(), p.priority(), false, false, r.kind().label(), List.of(r.reason()));
    }
  }

  /**
   * The selection as JSON: {@code {"chosen":..., "why":..., "drivers":[{name, priority, usable,
   * hasState, refusal, reasons}], "cached":...}}.
   */
  public static String toJson(Selection s) throws IOException {
    return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(s);
  }

  // ------------------------------------------------------------------ the probe cache

  /** What the cached verdicts depend on. */
  record CacheKey(
      String kernel,
      long euid,
      boolean userNamespace,
      String dataRoot,
      long filesystemMagic,
      String mount,
      List<String> mountOptions,
      List<String> drivers,
      Map<String, String> options) {
    static CacheKey of(
        Path dataRoot, Host host, Map<String, String> options, List<DriverProvider> providers)
        throws IOException {
      List<String> drivers = new ArrayList<>();
      for (DriverProvider p : providers) {
        StringBuilder d = new StringBuilder(p.name()).append('@').append(p.priority());
        for (String input : p.probeInputs(context(dataRoot, p, host, options))) {
          d.append(' ').append(input);
        }
        drivers.add(d.toString());
      }
      FsInfo fs = host.filesystems().probe(dataRoot);
      return new CacheKey(
          host.kernel().release(),
          Sys.geteuid(),
          host.inUserNamespace(),
          dataRoot.toString(),
          fs.magic(),
          fs.type() + " " + fs.source() + " at " + fs.mountPoint(),
          fs.superOptions(),
          drivers,
          new TreeMap<>(options));
    }
  }

  /** The cache file's content. */
  record CacheFile(int version, CacheKey key, String probedAt, List<Verdict> verdicts) {}

  /** The cached verdicts, in the providers' order, or null when there are none for this key. */
  static List<Verdict> readCache(Path dataRoot, CacheKey key) {
    Path file = dataRoot.resolve(CACHE_FILE);
    try {
      if (!Files.isRegularFile(file)) {
        return null;
      }
      CacheFile c = JSON.readValue(file.toFile(), CacheFile.class);
      if (c.version() != CACHE_VERSION
          || !key.equals(c.key())
          || c.verdicts() == null
          || c.verdicts().size() != key.drivers().size()) {
        return null;
      }
      return c.verdicts();
    } catch (IOException | RuntimeException e) {
      return null; // unreadable or of another shape: probe again
    }
  }

  /** Rewrites the cache atomically; a cache that cannot be written only costs the next probe. */
  static void writeCache(Path dataRoot, CacheKey key, List<Verdict> verdicts) {
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dataRoot, "." + CACHE_FILE + ".", ".tmp");
      CacheFile c = new CacheFile(CACHE_VERSION, key, Instant.now().toString(), verdicts);
      Files.write(
          tmp,
          JSON.writerWithDefaultPrettyPrinter()
              .writeValueAsString(c)
              .getBytes(StandardCharsets.UTF_8));
      Files.move(tmp, dataRoot.resolve(CACHE_FILE), StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } catch (IOException e) {
      // the cache is an optimisation only
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // left as a dot-file; harmless
        }
      }
    }
  }
}
