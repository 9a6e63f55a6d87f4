package io.layerd.daemon.containerd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * containerd's snapshots as layerd keeps them: one JSON file in the data-root ({@value #FILE}),
 * rewritten whole (temporary file, fsync, rename) after every change, mapping containerd's keys
 * (any string: containerd's metadata store makes them "NAMESPACE/N/NAME") to the engine's layers.
 * Not thread-safe: the snapshotter serializes its calls.
 */
final class SnapshotRecords {
  static final String FILE = "containerd-snapshots.json";

  /** The kinds containerd knows. */
  enum Kind {
    VIEW,
    ACTIVE,
    COMMITTED
  }

  /**
   * One snapshot. {@code layer} is the engine's layer holding its tree; {@code ownsLayer} is false
   * for a view, which shows its parent's layer (or the shifted copy of it) read-only and has none
   * of its own. {@code remap} is null unless the snapshot was made with containerd's id-mapping
   * labels.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Rec(
      String layer,
      boolean ownsLayer,
      Kind kind,
      String parent,
      Map<String, String> labels,
      long createdNanos,
      long updatedNanos,
      Remap remap) {
    Rec {
      labels = labels == null ? Map.of() : Map.copyOf(new TreeMap<>(labels));
    }

    Rec withLabels(Map<String, String> l, long now) {
      return new Rec(layer, ownsLayer, kind, parent, l, createdNanos, now, remap);
    }
  }

  /**
   * How a snapshot's files are owned through a user-namespace mapping ({@link IdMapLabels}).
   *
   * @param method idmapped lower layers (its mounts carry the mapping) or a shifted copy
   * @param uidmap the uid mapping, as containerd writes it
   * @param gidmap the gid mapping
   * @param base for a shifted copy of a parent: the engine layer holding that copy, which the
   *     snapshot's layer stands on (a view shows it); shared by the snapshots of the same parent
   *     and mapping, removed with the last of them. Null otherwise.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Remap(RemapMethod.Kind method, String uidmap, String gidmap, String base) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final Map<String, Rec> byKey = new LinkedHashMap<>();

  private SnapshotRecords(Path file) {
    this.file = file;
  }

  static SnapshotRecords open(Path dataRoot) throws IOException {
    SnapshotRecords r = new SnapshotRecords(dataRoot.resolve(FILE));
    try {
      Map<String, Rec> m =
          JSON.readValue(Files.readAllBytes(r.file), new TypeReference<Map<String, Rec>>() {});
      r.byKey.putAll(m);
    } catch (NoSuchFileException none) {
      // no snapshot yet
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new IOException(
          r.file + " is not layerd's snapshot list (" + e.getOriginalMessage() + ")", e);
    }
    return r;
  }

  Rec get(String key) {
    return byKey.get(key);
  }

  Map<String, Rec> all() {
    return java.util.Collections.unmodifiableMap(byKey);
  }

  boolean hasChildren(String key) {
    for (Rec r : byKey.values()) {
      if (key.equals(r.parent())) {
        return true;
      }
    }
    return false;
  }

  /** The shifted copy of {@code parent} with this mapping that a snapshot stands on, or null. */
  String shiftedBase(String parent, String uidmap, String gidmap) {
    for (Rec r : byKey.values()) {
      Remap m = r.remap();
      if (m != null
          && m.base() != null
          && parent.equals(r.parent())
          && m.uidmap().equals(uidmap)
          && m.gidmap().equals(gidmap)) {
        return m.base();
      }
    }
    return null;
  }

  /** True when a snapshot other than {@code key} stands on (or shows) shifted copy {@code base}. */
  boolean baseUsedByOthers(String key, String base) {
    for (Map.Entry<String, Rec> e : byKey.entrySet()) {
      Remap m = e.getValue().remap();
      if (!e.getKey().equals(key) && m != null && base.equals(m.base())) {
        return true;
      }
    }
    return false;
  }

  /** True when another snapshot shows (or holds) this layer. */
  boolean layerUsedByOthers(String key, String layer) {
    for (Map.Entry<String, Rec> e : byKey.entrySet()) {
      if (!e.getKey().equals(key) && layer.equals(e.getValue().layer())) {
        return true;
      }
    }
    return false;
  }

  void put(String key, Rec rec) throws IOException {
    byKey.put(key, rec);
    save();
  }

  void rename(String from, String to, Rec rec) throws IOException {
    byKey.remove(from);
    byKey.put(to, rec);
    save();
  }

  void remove(String key) throws IOException {
    byKey.remove(key);
    save();
  }

  private void save() throws IOException {
    Path tmp = file.resolveSibling(FILE + ".tmp");
    byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(byKey);
    try (var ch =
        java.nio.channels.FileChannel.open(
            tmp,
            java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
            java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(bytes));
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
