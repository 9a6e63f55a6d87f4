package io.layerd.daemon.containerd;

import io.layerd.daemon.containerd.SnapshotRecords.Kind;
import io.layerd.daemon.containerd.SnapshotRecords.Rec;
import io.layerd.daemon.containerd.SnapshotRecords.Remap;
import io.layerd.engine.Engine;
import io.layerd.engine.LayerMeta;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import io.layerd.idmap.UnmappedIdException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * containerd's snapshot model on the engine (ARCHITECTURE.md, "Layer model"): an active snapshot is
 * a read-write layer, committing renames the record (O(1): the layer stays, now the parent of
 * whatever is prepared on it), a view shows its parent's layer read-only and has none of its own.
 * containerd performs the mounts returned, so the engine mounts nothing here and counts no
 * references. Calls are serialized; the records are saved after every change.
 */
final class Snapshotter {
  private static final Logger LOG = LoggerFactory.getLogger(Snapshotter.class);

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
    IdMapLabels idmap = IdMapLabels.of(labels);
    if (idmap != null) {
      return remapped(key, emptyToNull(parent), parentLayer, labels, idmap, Kind.ACTIVE);
    }
    String layer = newLayerId();
    engine.createReadWrite(layer, parentLayer);
    long now = now();
    try {
      records.put(
          key, new Rec(layer, true, Kind.ACTIVE, emptyToNull(parent), labels, now, now, null));
    } catch (IOException e) {
      engine.remove(layer);
      throw e;
    }
    return mounts(layer, false);
  }

  synchronized List<Mount> view(String key, String parent, Map<String, String> labels)
      throws SnapshotException, IOException {
    String parentLayer = checkNew(key, parent);
    IdMapLabels idmap = IdMapLabels.of(labels);
    if (idmap != null) {
      return remapped(key, emptyToNull(parent), parentLayer, labels, idmap, Kind.VIEW);
    }
    long now = now();
    if (parentLayer != null) {
      records.put(key, new Rec(parentLayer, false, Kind.VIEW, parent, labels, now, now, null));
      return mounts(parentLayer, true);
    }
    String layer = newLayerId(); // a view of nothing: an empty layer of its own
    engine.create(layer, null);
    records.put(key, new Rec(layer, true, Kind.VIEW, null, labels, now, now, null));
    return mounts(layer, true);
  }

  /**
   * Prepare or View with containerd's id-mapping labels: a snapshot whose files appear owned
   * through the mapping ({@link RemapMethod}). Without a parent there is nothing to map but the new
   * layer's root, which goes to the mapped root.
   */
  private List<Mount> remapped(
      String key,
      String parent,
      String parentLayer,
      Map<String, String> labels,
      IdMapLabels idmap,
      Kind kind)
      throws SnapshotException, IOException {
    boolean view = kind == Kind.VIEW;
    long now = now();
    if (parentLayer == null) {
      String layer = newLayerId();
      if (view) {
        engine.create(layer, null);
      } else {
        engine.createReadWrite(layer, null);
      }
      Remap remap = new Remap(RemapMethod.Kind.SHIFTED_COPY, idmap.uidmap(), idmap.gidmap(), null);
      try {
        engine.mapRootOwner(layer, idmap.owners());
        records.put(key, new Rec(layer, true, kind, null, labels, now, now, remap));
      } catch (IOException | RuntimeException e) {
        engine.remove(layer);
        throw e;
      }
      LOG.info(
          "{} {}: no parent, so no file to map; its root belongs to the mapped root {}:{} ({})",
          view ? "view" : "prepare",
          key,
          idmap.rootUid(),
          idmap.rootGid(),
          idmap.key());
      return mounts(layer, view);
    }
    RemapMethod method =
        RemapMethod.choose(
            engine.host(),
            engine.host().filesystems().probe(engine.driver().diffDirectory(parentLayer)),
            engine.driver().mounts(parentLayer, true));
    if (method.kind() == RemapMethod.Kind.IDMAPPED_LOWERS) {
      Remap remap = new Remap(method.kind(), idmap.uidmap(), idmap.gidmap(), null);
      String layer = parentLayer;
      if (!view) {
        layer = newLayerId();
        engine.createReadWrite(layer, parentLayer);
      }
      try {
        if (!view) {
          engine.mapRootOwner(layer, idmap.owners());
        }
        records.put(key, new Rec(layer, !view, kind, parent, labels, now, now, remap));
      } catch (IOException | RuntimeException e) {
        if (!view) {
          engine.remove(layer);
        }
        throw e;
      }
      LOG.info(
          "{} {}: ids mapped by idmapped lower layers, which containerd mounts ({}; {})",
          view ? "view" : "prepare",
          key,
          idmap.key(),
          method.reason());
      return mounts(layer, view, remap);
    }
    String base = records.shiftedBase(parent, idmap.uidmap(), idmap.gidmap());
    boolean made = base == null;
    long started = System.nanoTime();
    if (made) {
      base = newLayerId();
      try {
        engine.createShifted(base, parentLayer, idmap.owners());
      } catch (IOException e) {
        UnmappedIdException u = unmapped(e);
        if (u == null) {
          throw e;
        }
        throw SnapshotException.precondition(
            "cannot give snapshot "
                + key
                + " the files of "
                + parent
                + " through "
                + idmap.key()
                + ": \""
                + u.entryPath()
                + "\" is owned by "
                + u.kind().label()
                + " "
                + u.id()
                + (u.reason() == UnmappedIdException.Reason.NAMESPACE
                    ? ", whose host id under the mapping is outside layerd's user namespace (it"
                        + " maps "
                        + u.kind().label()
                        + "s "
                        + u.mapping().describeContainerIds()
                        + "); give host ids within layerd's namespace"
                    : ", which the mapping does not cover (it maps "
                        + u.kind().label()
                        + "s "
                        + u.mapping().describeContainerIds()
                        + "); give a mapping whose ranges cover every owner in the image"));
      }
    }
    Remap remap = new Remap(method.kind(), idmap.uidmap(), idmap.gidmap(), base);
    String layer = base;
    try {
      if (!view) {
        layer = newLayerId();
        engine.createReadWrite(layer, base);
      }
      try {
        records.put(key, new Rec(layer, !view, kind, parent, labels, now, now, remap));
      } catch (IOException | RuntimeException e) {
        if (!view) {
          engine.remove(layer);
        }
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      if (made) {
        try {
          engine.remove(base);
        } catch (IOException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
      throw e;
    }
    LOG.info(
        "{} {}: ids mapped by a shifted copy of {} ({}), layer {} {}; idmapped lower layers not"
            + " used: {}",
        view ? "view" : "prepare",
        key,
        parent,
        idmap.key(),
        base,
        made
            ? "made in " + (System.nanoTime() - started) / 1_000_000 + " ms"
            : "already made, shared",
        method.reason());
    return mounts(layer, view);
  }

  synchronized List<Mount> mounts(String key) throws SnapshotException, IOException {
    Rec r = existing(key);
    return mounts(r.layer(), r.kind() != Kind.ACTIVE, r.remap());
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
        key,
        name,
        new Rec(r.layer(), true, Kind.COMMITTED, r.parent(), labels, now, now, r.remap()));
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
    String base = r.remap() == null ? null : r.remap().base();
    boolean lastOnBase = base != null && !records.baseUsedByOthers(key, base);
    records.remove(key);
    if (lastOnBase && engine.exists(base)) {
      engine.remove(base);
      LOG.info("remove {}: shifted copy {} removed with the last snapshot using it", key, base);
    }
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
      if (r.remap() != null && r.remap().base() != null) {
        named.add(r.remap().base());
      }
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

  /** The unmapped-id failure in {@code e}'s causes, or null. */
  private static UnmappedIdException unmapped(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UnmappedIdException u) {
        return u;
      }
    }
    return null;
  }

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

  /**
   * The layer's mounts in the form containerd performs, with containerd's {@code uidmap=} and
   * {@code gidmap=} options when the snapshot's ids are mapped by idmapped lower layers: containerd
   * then clones the lower directories' common parent idmapped and mounts overlay on the clone's
   * paths, so each lower directory is given as its real path (overlay2's short links are relative
   * symlinks, which would point out of the clone).
   */
  private List<Mount> mounts(String layer, boolean readOnly, Remap remap) throws IOException {
    if (remap == null || remap.method() != RemapMethod.Kind.IDMAPPED_LOWERS) {
      return mounts(layer, readOnly);
    }
    List<Mount> ms = mounts(layer, readOnly, false);
    List<Mount> out = new ArrayList<>();
    for (Mount m : ms) {
      List<String> options = new ArrayList<>();
      for (String o : m.options()) {
        if (o.startsWith("lowerdir=")) {
          List<String> dirs = new ArrayList<>();
          for (String d : o.substring("lowerdir=".length()).split(":", -1)) {
            dirs.add(Path.of(d).toRealPath().toString());
          }
          options.add("lowerdir=" + String.join(":", dirs));
        } else {
          options.add(o);
        }
      }
      options.add("uidmap=" + remap.uidmap());
      options.add("gidmap=" + remap.gidmap());
      out.add(new Mount(m.type(), m.source(), options));
    }
    return out;
  }

  /** The layer's mounts as the driver gives them, in the form containerd performs. */
  private List<Mount> mounts(String layer, boolean readOnly) throws IOException {
    return mounts(layer, readOnly, true);
  }

  /**
   * The layer's mounts in the form containerd performs and its own overlayfs snapshotter returns,
   * so that BuildKit (dockerd's, for {@code docker build}) computes a build step's layer from the
   * upper directory itself, as it does on that snapshotter, instead of asking the differ to walk
   * both trees. Its util/overlay takes a read-only view only as one bind mount (of one layer) or an
   * overlay of lower directories alone, with no option it does not know ({@code ro} among them);
   * the lower directories must be the very strings the other snapshot's mount names, and it walks
   * the top-most one of a view as that layer's changes. So each lower directory is named by its
   * real path (overlay2's short links are symlinks, which a walk does not enter), a read-only
   * overlay loses its {@code ro} (an overlay without an upper directory is read-only anyway) and,
   * with {@code bindBase}, the view of a layer without parents (an overlay of it over an empty
   * directory) becomes a read-only bind mount of its directory. Where the real paths would not fit
   * in a page of mount data the short links stay, and so does {@code ro}: BuildKit then refuses the
   * mounts and asks the differ, which is right for any chain.
   */
  private List<Mount> mounts(String layer, boolean readOnly, boolean bindBase) throws IOException {
    List<Mount> ms = engine.driver().mounts(layer, readOnly);
    if (ms.isEmpty()) {
      // The layer's directory is its whole tree (vfs): a bind mount of it.
      return List.of(Mount.bind(engine.driver().diffDirectory(layer).toString(), readOnly));
    }
    List<Mount> out = new ArrayList<>();
    for (Mount m : ms) {
      out.add(forContainerd(m));
    }
    if (out.size() == 1 && out.get(0).type().equals("overlay")) {
      Mount real = withRealLowers(out.get(0));
      if (real != null) {
        return List.of(
            readOnly ? readOnlyOverlay(real, bindBase && parentLayer(layer) == null) : real);
      }
    }
    return out;
  }

  /**
   * {@code m} (with absolute paths) with each lower directory named by its real path, or null when
   * that is over a page of mount data or a real path holds a character overlay splits at.
   */
  static Mount withRealLowers(Mount m) throws IOException {
    List<String> options = new ArrayList<>();
    List<String> data = new ArrayList<>();
    for (String o : m.options()) {
      if (o.startsWith("lowerdir=")) {
        List<String> dirs = new ArrayList<>();
        for (String d : o.substring("lowerdir=".length()).split(":", -1)) {
          String real = Path.of(d).toRealPath().toString();
          if (real.indexOf(':') >= 0 || real.indexOf(',') >= 0 || real.indexOf('\\') >= 0) {
            return null;
          }
          dirs.add(real);
        }
        o = "lowerdir=" + String.join(":", dirs);
      }
      options.add(o);
      if (!o.equals("ro")) {
        data.add(o);
      }
    }
    if (String.join(",", data).getBytes(StandardCharsets.UTF_8).length > Mounter.MAX_DATA) {
      return null;
    }
    return new Mount(m.type(), m.source(), options);
  }

  /** See {@link #mounts(String, boolean, boolean)}: a read-only overlay as containerd gives it. */
  static Mount readOnlyOverlay(Mount m, boolean base) {
    List<String> options = new ArrayList<>();
    String lowers = null;
    for (String o : m.options()) {
      if (o.startsWith("upperdir=")) {
        return m; // not a read-only overlay after all
      }
      if (o.startsWith("lowerdir=")) {
        lowers = o.substring("lowerdir=".length());
      }
      if (!o.equals("ro")) {
        options.add(o);
      }
    }
    if (base && lowers != null) {
      String[] dirs = lowers.split(":", -1);
      if (dirs.length == 2) { // the layer's own directory over the empty one
        return Mount.bind(dirs[0], true);
      }
    }
    return new Mount(m.type(), m.source(), options);
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
