package io.layerd.daemon.containerd;

import io.layerd.daemon.containerd.SnapshotRecords.Kind;
import io.layerd.daemon.containerd.SnapshotRecords.Rec;
import io.layerd.engine.Engine;
import io.layerd.engine.LayerMeta;
import io.layerd.engine.spi.Mount;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * containerd's snapshot model on the engine (ARCHITECTURE.md, "Layer model"): an active snapshot is
 * a read-write layer, committing renames the record (O(1): the layer stays, now the parent of
 * whatever is prepared on it), a view shows its parent's layer read-only and has none of its own.
 * containerd performs the mounts returned, so the engine mounts nothing here and counts no
 * references. Calls are serialized; the records are saved after every change.
 */
final class Snapshotter {
  /** Engine layer ids of containerd's snapshots start with this. */
  static final String LAYER_PREFIX = "ctd-";

  /**
   * The label containerd's unpacker sets on a layer's Prepare and Commit: the name (chain ID) the
   * snapshot is to be committed as.
   */
  static final String SNAPSHOT_REF = "containerd.io/snapshot.ref";

  private final Engine engine;
  private final SnapshotRecords records;

  private Snapshotter(Engine engine, SnapshotRecords records) {
    this.engine = engine;
    this.records = records;
  }

  static Snapshotter open(Engine engine) throws IOException {
    return new Snapshotter(engine, SnapshotRecords.open(engine.dataRoot()));
  }

  /** A snapshot as containerd sees it. */
  record Info(String name, Rec rec) {}

  /**
   * Prepare. When {@link #SNAPSHOT_REF} names a layer that is already committed on the same parent
   * (the same chain ID, unpacked in another namespace or by a concurrent unpack), the answer is
   * ALREADY_EXISTS: containerd then finds that snapshot by its label and parent, and neither
   * fetches nor applies the layer again.
   */
  synchronized List<Mount> prepare(String key, String parent, Map<String, String> labels)
      throws SnapshotException, IOException {
    String parentLayer = checkNew(key, parent);
    String target = labels.get(SNAPSHOT_REF);
    if (target != null) {
      for (Rec r : records.all().values()) {
        if (r.kind() == Kind.COMMITTED
            && target.equals(r.labels().get(SNAPSHOT_REF))
            && java.util.Objects.equals(r.parent(), emptyToNull(parent))) {
          throw SnapshotException.exists("target snapshot " + target);
        }
      }
    }
    String layer = newLayerId();
    engine.createReadWrite(layer, parentLayer);
    long now = now();
    try {
      records.put(key, new Rec(layer, true, Kind.ACTIVE, emptyToNull(parent), labels, now, now));
    } catch (IOException e) {
      engine.remove(layer);
      throw e;
    }
    return mounts(layer, false);
  }

  synchronized List<Mount> view(String key, String parent, Map<String, String> labels)
      throws SnapshotException, IOException {
    String parentLayer = checkNew(key, parent);
    long now = now();
    if (parentLayer != null) {
      records.put(key, new Rec(parentLayer, false, Kind.VIEW, parent, labels, now, now));
      return mounts(parentLayer, true);
    }
    String layer = newLayerId(); // a view of nothing: an empty layer of its own
    engine.create(layer, null);
    records.put(key, new Rec(layer, true, Kind.VIEW, null, labels, now, now));
    return mounts(layer, true);
  }

  synchronized List<Mount> mounts(String key) throws SnapshotException, IOException {
    Rec r = existing(key);
    return mounts(r.layer(), r.kind() != Kind.ACTIVE);
  }

  synchronized void commit(String name, String key, Map<String, String> labels)
      throws SnapshotException, IOException {
    checkKey(name);
    Rec r = existing(key);
    if (r.kind() != Kind.ACTIVE) {
      throw SnapshotException.precondition("snapshot " + key + " is not active");
    }
    if (records.get(name) != null) {
      throw SnapshotException.exists("snapshot " + name);
    }
    long now = now();
    records.rename(
        key, name, new Rec(r.layer(), true, Kind.COMMITTED, r.parent(), labels, now, now));
  }

  synchronized void remove(String key) throws SnapshotException, IOException {
    Rec r = existing(key);
    if (records.hasChildren(key)) {
      throw SnapshotException.precondition(
          "cannot remove snapshot " + key + ": snapshots are based on it");
    }
    if (r.ownsLayer() && !records.layerUsedByOthers(key, r.layer())) {
      if (engine.exists(r.layer())) {
        engine.remove(r.layer());
      }
    }
    records.remove(key);
  }

  synchronized Info stat(String key) throws SnapshotException {
    return new Info(key, existing(key));
  }

  /**
   * Update: only labels change. An empty mask replaces them all; "labels" too; "labels.NAME" sets
   * or (absent from the given labels) removes one.
   */
  synchronized Info update(String key, Map<String, String> labels, List<String> paths)
      throws SnapshotException, IOException {
    Rec r = existing(key);
    Map<String, String> next;
    if (paths.isEmpty() || paths.contains("labels")) {
      next = labels;
    } else {
      next = new LinkedHashMap<>(r.labels());
      for (String p : paths) {
        if (!p.startsWith("labels.")) {
          throw SnapshotException.invalid(
              "cannot update " + p + " of snapshot " + key + ": only labels can change");
        }
        String name = p.substring("labels.".length());
        String v = labels.get(name);
        if (v == null) {
          next.remove(name);
        } else {
          next.put(name, v);
        }
      }
    }
    Rec updated = r.withLabels(next, now());
    records.put(key, updated);
    return new Info(key, updated);
  }

  synchronized List<Info> list() {
    List<Info> out = new ArrayList<>();
    for (Map.Entry<String, Rec> e : records.all().entrySet()) {
      out.add(new Info(e.getKey(), e.getValue()));
    }
    return out;
  }

  /**
   * Usage, as containerd's own snapshotters report it: the blocks ({@code st_blocks} × 512) and
   * inodes of the snapshot's own layer directory (overlay2's diff directory; vfs's and btrfs's
   * whole tree). A view owns no layer and uses nothing.
   */
  synchronized long[] usage(String key) throws SnapshotException, IOException {
    Rec r = existing(key);
    if (!r.ownsLayer()) {
      return new long[] {0, 0};
    }
    io.layerd.engine.DiskUsage u = engine.diskUsage(r.layer());
    return new long[] {u.bytes(), u.inodes()};
  }

  /**
   * Cleanup: removes the engine layers of containerd's snapshots that no record names any more (a
   * crash between making a layer and saving its record), children first.
   */
  synchronized int cleanup() throws IOException {
    Set<String> named = new HashSet<>();
    for (Rec r : records.all().values()) {
      named.add(r.layer());
    }
    Map<String, String> parentOf = new HashMap<>();
    for (LayerMeta m : engine.store().all()) {
      if (m.id().startsWith(LAYER_PREFIX) && !named.contains(m.id())) {
        parentOf.put(m.id(), m.parent());
      }
    }
    int removed = 0;
    boolean progress = true;
    while (progress && !parentOf.isEmpty()) {
      progress = false;
      for (String id : new ArrayList<>(parentOf.keySet())) {
        if (!parentOf.containsValue(id)) {
          engine.remove(id);
          parentOf.remove(id);
          removed++;
          progress = true;
        }
      }
    }
    return removed;
  }

  /**
   * One of layerd's snapshots that a list of mounts shows: {@code key} and its record, and whether
   * the mounts were its read-write (an active snapshot's) or read-only form.
   */
  record Match(String key, Rec rec, boolean readOnly) {
    /** The containerd namespace the key is in: containerd names keys "NAMESPACE/N/NAME". */
    String namespace() {
      int slash = key.indexOf('/');
      return slash <= 0 ? null : key.substring(0, slash);
    }
  }

  /**
   * The snapshots whose mounts, as Prepare, View or Mounts returned them, are exactly {@code
   * given}: the active snapshot for read-write mounts, else every snapshot showing that layer
   * read-only (a committed snapshot and its views). Empty for mounts that are not layerd's own (of
   * another snapshotter, or changed on the way).
   */
  synchronized List<Match> match(List<Mount> given) throws IOException {
    List<Match> out = new ArrayList<>();
    if (given.isEmpty()) {
      return out;
    }
    Map<String, Boolean> rwMatches = new HashMap<>();
    Map<String, Boolean> roMatches = new HashMap<>();
    for (Map.Entry<String, Rec> e : records.all().entrySet()) {
      Rec r = e.getValue();
      if (r.kind() == Kind.ACTIVE
          && rwMatches.computeIfAbsent(r.layer(), l -> sameMounts(l, false, given))) {
        out.add(new Match(e.getKey(), r, false));
        return out;
      }
    }
    for (Map.Entry<String, Rec> e : records.all().entrySet()) {
      Rec r = e.getValue();
      if (roMatches.computeIfAbsent(r.layer(), l -> sameMounts(l, true, given))) {
        out.add(new Match(e.getKey(), r, true));
      }
    }
    return out;
  }

  private boolean sameMounts(String layer, boolean readOnly, List<Mount> given) {
    try {
      return engine.exists(layer) && mounts(layer, readOnly).equals(given);
    } catch (IOException e) {
      return false; // a layer being removed
    }
  }

  /** The record's layer's parent layer in the engine, or null for a base layer. */
  String parentLayer(String layer) {
    return engine.store().get(layer).map(LayerMeta::parent).orElse(null);
  }

  // ------------------------------------------------------------------ helpers

  /** Checks that KEY is new and PARENT committed; returns the parent's layer (null for none). */
  private String checkNew(String key, String parent) throws SnapshotException {
    checkKey(key);
    if (records.get(key) != null) {
      throw SnapshotException.exists("snapshot " + key);
    }
    if (parent == null || parent.isEmpty()) {
      return null;
    }
    Rec p = records.get(parent);
    if (p == null) {
      throw SnapshotException.notFound("parent snapshot " + parent);
    }
    if (p.kind() != Kind.COMMITTED) {
      throw SnapshotException.invalid("parent " + parent + " is not a committed snapshot");
    }
    return p.layer();
  }

  private static void checkKey(String key) throws SnapshotException {
    if (key == null || key.isEmpty()) {
      throw SnapshotException.invalid("a snapshot key must not be empty");
    }
  }

  private Rec existing(String key) throws SnapshotException {
    checkKey(key);
    Rec r = records.get(key);
    if (r == null) {
      throw SnapshotException.notFound("snapshot " + key);
    }
    return r;
  }

  /** The layer's mounts as the driver gives them, in the form containerd performs. */
  private List<Mount> mounts(String layer, boolean readOnly) throws IOException {
    List<Mount> ms = engine.driver().mounts(layer, readOnly);
    if (ms.isEmpty()) {
      // The layer's directory is its whole tree (vfs): a bind mount of it.
      return List.of(Mount.bind(engine.driver().diffDirectory(layer).toString(), readOnly));
    }
    List<Mount> out = new ArrayList<>();
    for (Mount m : ms) {
      out.add(forContainerd(m));
    }
    return out;
  }

  /**
   * containerd runs mount(2) with absolute paths only (no working directory) and mounts FUSE
   * filesystems through {@code mount.fuse3} ("fuse3.HELPER").
   */
  static Mount forContainerd(Mount m) {
    List<String> options = m.options();
    if (m.workingDirectory() != null) {
      Path wd = Path.of(m.workingDirectory());
      options = new ArrayList<>();
      for (String o : m.options()) {
        int eq = o.indexOf('=');
        String k = eq < 0 ? o : o.substring(0, eq);
        if (eq > 0 && (k.equals("lowerdir") || k.equals("upperdir") || k.equals("workdir"))) {
          List<String> dirs = new ArrayList<>();
          for (String d : o.substring(eq + 1).split(":", -1)) {
            dirs.add(d.startsWith("/") ? d : wd.resolve(d).toString());
          }
          options.add(k + "=" + String.join(":", dirs));
        } else {
          options.add(o);
        }
      }
    }
    String type = m.type().startsWith("fuse.") ? "fuse3." + m.type().substring(5) : m.type();
    return new Mount(type, m.source(), options);
  }

  private static String newLayerId() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    return LAYER_PREFIX
        + String.format("%016x%016x", r.nextLong(), r.nextLong()); // unique; no meaning
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static long now() {
    java.time.Instant t = java.time.Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }
}
