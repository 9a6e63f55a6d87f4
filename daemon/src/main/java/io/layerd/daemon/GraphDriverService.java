package io.layerd.daemon;

import io.layerd.engine.DriverSelector;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.LayerMeta;
import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.Host;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRemapper;
import io.layerd.sys.Sys;
import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.IdOwners;
import io.layerd.unpack.OwnerMapper;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Docker's graph-driver methods over the engine. Holds the engine of the data-root, opened at start
 * (so that a restart recovers the store and a second layerd on the same data-root fails at once),
 * and, when dockerd's Init carries {@code --userns-remap} maps, a second engine on {@code
 * DATA-ROOT/UID.GID} whose ApplyDiff shifts owners (the layout Docker itself uses for remapped
 * roots: their layers belong to other ids, so they are never shared with unshifted ones).
 *
 * <p>Thread-safe: the engine serializes work per layer id and runs different ids in parallel; Init
 * swaps the active engine under this object's lock.
 */
final class GraphDriverService implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(GraphDriverService.class);

  private final Settings settings;
  private final Host host;
  private final Engine base;
  private Engine remapped; // guarded by this
  private IdMappings activeMaps = IdMappings.identity(); // guarded by this
  private volatile Engine active;

  private GraphDriverService(Settings settings, Host host, Engine base) {
    this.settings = settings;
    this.host = host;
    this.base = base;
    this.active = base;
  }

  /** Opens the data-root: checks it, takes its lock, chooses the driver, recovers. */
  static GraphDriverService open(Settings settings) throws IOException {
    Host host = Host.current();
    Engine e = Engine.open(config(settings, host, settings.dataRoot(), IdMappings.identity()));
    GraphDriverService s = new GraphDriverService(settings, host, e);
    LOG.info(
        "data-root {}: driver {} ({}), {} layers",
        e.dataRoot(),
        e.driver().name(),
        e.selection().why(),
        e.store().all().size());
    return s;
  }

  private static EngineConfig config(Settings s, Host host, Path root, IdMappings maps)
      throws IOException {
    return new EngineConfig(
        root, s.driver(), s.options(), host, DriverSelector.installed(), owners(s, host, maps));
  }

  /**
   * Root (real, or of a user namespace) chowns through idmap's {@link IdRemapper}, adapted to the
   * applier by unpack's {@link IdOwners}; a plain user outside any namespace cannot chown at all,
   * so files keep the user's ids (as tar does for a user).
   */
  private static OwnerMapper owners(Settings s, Host host, IdMappings maps) throws IOException {
    if (!host.root()) {
      if (!maps.isIdentity()) {
        throw new IOException(
            "dockerd asks for --userns-remap maps, but layerd runs as uid "
                + Sys.geteuid()
                + " outside a user namespace and cannot give files to other ids: run layerd as"
                + " root");
      }
      return OwnerMapper.keep();
    }
    // idmap decides each owner: the tar id shifted by Docker's maps (--userns-remap), which must
    // be mapped by this process's namespace (rootless: rootlesskit's); an id that is not is a
    // precise error (or squashed, or skipped) as the unmapped-ids policy says.
    return IdOwners.of(IdRemapper.builder().shift(maps).policy(s.unmappedIds()).build());
  }

  /**
   * The engine of the data-root itself, owners as in the layers (not a --userns-remap store): the
   * one containerd's snapshots live in.
   */
  Engine baseEngine() {
    return base;
  }

  /** The engine serving requests now. */
  Engine engine() {
    Engine e = active;
    if (e == null) {
      throw new IllegalStateException("layerd is shutting down");
    }
    return e;
  }

  /**
   * GraphDriver.Init: dockerd (re)starts. {@code home} is dockerd's directory for the driver
   * (layerd keeps its layers in its own data-root and only logs it). Docker's maps (non-null,
   * non-identity with {@code --userns-remap}) select the remapped engine; options must be of the
   * form {@code key=value}.
   */
  synchronized void init(String home, List<String> opts, IdMappings maps) throws IOException {
    Objects.requireNonNull(maps, "maps");
    for (String o : opts) {
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "storage option \"" + o + "\" is not of the form key=value");
      }
      String key = o.substring(0, eq);
      String value = o.substring(eq + 1);
      if (!value.equals(settings.options().get(key))) {
        throw new IllegalArgumentException(
            "dockerd passes the storage option "
                + o
                + ", which layerd does not take from dockerd: set driver options in layerd's"
                + " config file (\"storage-opts\") or with layerd --storage-opt");
      }
    }
    if (maps.equals(activeMaps)) {
      LOG.info("Init from dockerd (home {}): serving {}", home, active.dataRoot());
      return;
    }
    if (remapped != null) {
      remapped.close();
      remapped = null;
    }
    if (maps.isIdentity()) {
      active = base;
    } else {
      long uid = maps.uids().hostIdOf(0);
      long gid = maps.gids().hostIdOf(0);
      if (uid < 0 || gid < 0) {
        throw new IllegalArgumentException(
            "the --userns-remap maps do not map container id 0 (UIDMaps " + maps.uids() + ")");
      }
      Path root = settings.dataRoot().resolve(uid + "." + gid);
      remapped = Engine.open(config(settings, host, root, maps));
      active = remapped;
    }
    activeMaps = maps;
    LOG.info(
        "Init from dockerd (home {}): serving {} with owners {}",
        home,
        active.dataRoot(),
        maps.isIdentity() ? "as in the layers" : "shifted by UIDMaps " + maps.uids());
  }

  void create(String id, String parent, Map<String, String> storageOpt) throws IOException {
    refuseStorageOpts(storageOpt);
    engine().create(id, parent);
  }

  void createReadWrite(String id, String parent, Map<String, String> storageOpt)
      throws IOException {
    refuseStorageOpts(storageOpt);
    engine().createReadWrite(id, parent);
  }

  private void refuseStorageOpts(Map<String, String> storageOpt) {
    if (storageOpt != null && !storageOpt.isEmpty()) {
      throw new IllegalArgumentException(
          "layerd's "
              + engine().driver().name()
              + " driver takes no per-container storage options (given: "
              + String.join(", ", storageOpt.keySet())
              + "); run the container without --storage-opt");
    }
  }

  Path get(String id) throws IOException {
    return engine().get(id);
  }

  void put(String id) throws IOException {
    engine().put(id);
  }

  boolean exists(String id) {
    return engine().exists(id);
  }

  void remove(String id) throws IOException {
    engine().remove(id);
  }

  Map<String, String> metadata(String id) throws IOException {
    return engine().metadata(id);
  }

  /** ApplyDiff: the layer's size as Docker records it (bytes of file content it holds). */
  long applyDiff(String id, String parent, InputStream tar) throws IOException {
    Engine e = engine();
    ApplyResult r = e.applyDiff(id, parent, tar);
    LOG.debug("applied {}: {} entries, diffID {}", id, r.counts().entries(), r.digests().diffId());
    return e.store().get(id).map(LayerMeta::size).orElse(0L);
  }

  long diff(String id, String parent, OutputStream out) throws IOException {
    return engine().diff(id, parent, out);
  }

  List<Change> changes(String id, String parent) throws IOException {
    return engine().changes(id, parent);
  }

  long diffSize(String id, String parent) throws IOException {
    return engine().diffSize(id, parent);
  }

  List<Map.Entry<String, String>> status() throws IOException {
    return engine().status();
  }

  /**
   * GraphDriver.Cleanup (dockerd stops): releases every outstanding Get, so that no layer stays
   * mounted for a dockerd that is gone. The store and its lock stay: dockerd may start again.
   */
  int cleanup() throws IOException {
    Engine e = engine();
    int released = 0;
    IOException first = null;
    for (LayerMeta m : e.store().all()) {
      while (e.references(m.id()) > 0) {
        try {
          e.put(m.id());
          released++;
        } catch (IOException x) {
          first = first == null ? x : first;
          break;
        }
      }
    }
    if (first != null) {
      throw first;
    }
    return released;
  }

  /** The layers of the active engine, oldest first, for {@code layerctl layers}. */
  List<Map<String, Object>> layers() {
    Engine e = engine();
    List<LayerMeta> all = new ArrayList<>(e.store().all());
    all.sort(Comparator.comparingLong(LayerMeta::created).thenComparing(LayerMeta::id));
    List<Map<String, Object>> out = new ArrayList<>();
    for (LayerMeta m : all) {
      out.add(describe(e, m));
    }
    return out;
  }

  /** One layer in detail, for {@code layerctl layers inspect}. */
  Map<String, Object> inspect(String id) throws IOException {
    Engine e = engine();
    LayerMeta m =
        e.store()
            .get(io.layerd.engine.spi.LayerIds.check(id))
            .orElseThrow(
                // The whole sentence as the "file": layerctl says it the same way offline.
                () ->
                    new java.nio.file.NoSuchFileException(
                        "no layer " + id + " in " + e.dataRoot()));
    Map<String, Object> out = describe(e, m);
    out.put("children", e.store().children(id));
    out.put("references", e.references(id));
    out.put("metadata", e.metadata(id));
    return out;
  }

  /** The JSON shape of one layer record (shared with layerctl's offline mode). */
  static Map<String, Object> describe(Engine e, LayerMeta m) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", m.id());
    out.put("parent", m.parent());
    out.put("kind", m.readWrite() ? "rw" : "ro");
    out.put("diffId", m.diffId());
    out.put("size", m.size());
    out.put("created", java.time.Instant.ofEpochMilli(m.created()).toString());
    out.put("driver", e.driver().name());
    return out;
  }

  /** Closes the engines: unmounts whatever is still mounted and releases the data-root's lock. */
  @Override
  public synchronized void close() throws IOException {
    active = null;
    IOException first = null;
    if (remapped != null) {
      try {
        remapped.close();
      } catch (IOException e) {
        first = e;
      }
      remapped = null;
    }
    try {
      base.close();
    } catch (IOException e) {
      if (first != null) {
        e.addSuppressed(first);
      }
      throw e;
    }
    if (first != null) {
      throw first;
    }
  }
}
