package io.layerd.engine.spi;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A storage driver bound to one data-root: it keeps each layer's files and says how to show a
 * layer's whole filesystem as mounts. Vocabulary: a <em>layer</em> is named by an id and has at
 * most one parent; a <em>read-only</em> layer is filled once (by the engine, through {@link
 * #diffDirectory}) and then never changes; a <em>read-write</em> layer is what a container writes
 * to, and may itself be the parent of another layer (Docker's "-init" layers are).
 *
 * <p>Life cycle of importing a layer: {@link #create} (parent given or not), the engine applies the
 * layer's tar into {@link #diffDirectory} in the {@link #deletionForm()} it asks for, and the layer
 * is read-only from then on. Of a container: {@link #create} read-write on top of an image layer,
 * {@link #mounts} performed by the engine (counted: a layer got twice is put twice before it is
 * unmounted), {@link #remove} when the container goes.
 *
 * <p>Invariants: create with an existing id fails; remove of a layer the engine still has mounted
 * never happens (the engine unmounts first); a driver never mounts, never reads a tar, and never
 * writes outside its home. Drivers are not required to be thread-safe per layer: the engine
 * serializes operations on one id.
 */
public interface Driver extends Closeable {
  /** The driver's name, as users choose it ("overlay2", "vfs"). */
  String name();

  Set<Capability> capabilities();

  /** How {@link #diffDirectory} records deletions. */
  DeletionForm deletionForm();

  /** Makes a layer's state. {@code parent} is null for a base layer. */
  void create(String id, String parent, boolean readWrite) throws IOException;

  /** Removes a layer's state entirely. */
  void remove(String id) throws IOException;

  /** True when the driver holds state for this id. */
  boolean exists(String id);

  /**
   * The directory that holds this layer's own changes (for a copying driver, its whole tree). The
   * engine applies a layer's tar here; it is not mounted.
   */
  Path diffDirectory(String id) throws IOException;

  /**
   * The mounts that show a layer's whole filesystem (its changes over all its parents'). An empty
   * list means {@link #diffDirectory} already is the whole filesystem and needs no mount.
   */
  List<Mount> mounts(String id, boolean readOnly) throws IOException;

  /**
   * The layer's changes against its parent read from the driver's own records, or empty when the
   * driver cannot tell them without comparing whole trees (the engine then compares them).
   */
  default Optional<List<Change>> nativeChanges(String id, String parent) throws IOException {
    return Optional.empty();
  }

  /** Lines for Docker's Status ("Backing Filesystem", ...), in order. */
  List<Map.Entry<String, String>> status() throws IOException;

  /** Per-layer facts for Docker's GetMetadata. */
  Map<String, String> metadata(String id) throws IOException;

  @Override
  default void close() throws IOException {}
}
