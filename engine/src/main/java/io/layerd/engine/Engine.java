package io.layerd.engine;

import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.OverlayXattrs;
import io.layerd.unpack.OwnerMapper;
import io.layerd.unpack.TreePacker;
import io.layerd.unpack.WhiteoutMode;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The engine: one data-root, one driver, the layer store, mounts and their reference counts. It
 * speaks Docker's graph-driver model (Create, CreateReadWrite, Get/Put, Remove, ApplyDiff, Diff,
 * Changes, DiffSize); containerd's snapshot model maps onto the same operations (see
 * ARCHITECTURE.md).
 *
 * <p>Thread-safe: operations on one layer id are serialized; different ids proceed in parallel
 * (parallel layer downloads apply in parallel).
 */
public final class Engine implements Closeable {
  private final Path root;
  private final Driver driver;
  private final DriverSelector.Selection selection;
  private final LayerStore store;
  private final EngineConfig config;
  private final Path mountRoot;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final Map<String, Integer> refs = new HashMap<>();
  private final Map<String, Path> mounted = new HashMap<>();
  private volatile boolean closed;

  private Engine(
      Path root,
      Driver driver,
      DriverSelector.Selection selection,
      LayerStore store,
      EngineConfig config) {
    this.root = root;
    this.driver = driver;
    this.selection = selection;
    this.store = store;
    this.config = config;
    this.mountRoot = root.resolve("mnt");
  }

  /**
   * Opens a data-root: checks it (NFS is refused before anything is written), makes it when
   * missing, takes its lock, chooses and opens the driver (probe verdicts from the data-root's
   * probe cache when they are for this kernel, user and set of drivers), and recovers from a crash
   * (half-made layers removed, stale mounts unmounted, staging emptied; reference counts start at
   * zero).
   */
  public static Engine open(EngineConfig config) throws IOException {
    Path root = DataRoot.prepare(config.dataRoot(), config.host());
    LayerStore store = LayerStore.open(root);
    try {
      DriverSelector.Explicit explicit =
          config.driver() == null || config.driver().isEmpty()
              ? null
              : new DriverSelector.Explicit(config.driver(), "the engine's configuration");
      DriverSelector.Selection sel =
          DriverSelector.select(
              root,
              config.host(),
              explicit,
              config.options(),
              config.providers(),
              DriverSelector.Probing.CACHED);
      DriverProvider provider =
          config.providers().stream()
              .filter(p -> p.name().equals(sel.chosen()))
              .findFirst()
              .orElseThrow();
      var ctx = DriverSelector.context(root, provider, config.host(), config.options());
      Files.createDirectories(ctx.home());
      Driver driver;
      try {
        driver = provider.open(ctx);
      } catch (DriverRefusal r) {
        throw new IOException(r.getMessage(), r);
      }
      Engine e = new Engine(root, driver, sel, store, config);
      e.recover();
      return e;
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
  }

  public Path dataRoot() {
    return root;
  }

  public Driver driver() {
    return driver;
  }

  public DriverSelector.Selection selection() {
    return selection;
  }

  public LayerStore store() {
    return store;
  }

  // ------------------------------------------------------------------ recovery

  private void recover() throws IOException {
    // Stale mounts of an earlier process under mnt/.
    for (String mp : mountsUnder(mountRoot)) {
      Mounter.unmount(Path.of(mp));
    }
    // Half-made records and files.
    try (var s = Files.list(store.staging())) {
      for (Path p : (Iterable<Path>) s::iterator) {
        removeTree(p);
      }
    }
    for (LayerMeta m : store.all()) {
      if (m.applying() || !driver.exists(m.id())) {
        removeState(m.id());
      }
    }
  }

  private static List<String> mountsUnder(Path dir) throws IOException {
    List<String> out = new ArrayList<>();
    String prefix = dir.toString() + "/";
    for (String line :
        Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
      String[] f = line.split(" ");
      if (f.length > 4 && f[4].startsWith(prefix)) {
        out.add(f[4]);
      }
    }
    out.sort((a, b) -> b.length() - a.length()); // deepest first
    return out;
  }

  // ------------------------------------------------------------------ locking

  private ReentrantLock lockOf(String id) {
    return locks.computeIfAbsent(id, k -> new ReentrantLock());
  }

  private interface IoCall<T> {
    T call() throws IOException;
  }

  private <T> T withLock(String id, IoCall<T> c) throws IOException {
    ReentrantLock l = lockOf(LayerIds.check(id));
    l.lock();
    try {
      if (closed) {
        throw new IOException("the engine is closed");
      }
      return c.call();
    } finally {
      l.unlock();
    }
  }

  // ------------------------------------------------------------------ graph-driver model

  /** Create: a read-only layer that ApplyDiff then fills. */
  public void create(String id, String parent) throws IOException {
    make(id, parent, false);
  }

  /** CreateReadWrite: a container's writable layer (it may be the parent of another). */
  public void createReadWrite(String id, String parent) throws IOException {
    make(id, parent, true);
  }

  private void make(String id, String parent, boolean rw) throws IOException {
    String p = parent == null || parent.isEmpty() ? null : LayerIds.check(parent);
    withLock(
        id,
        () -> {
          if (store.get(id).isPresent() || driver.exists(id)) {
            throw new java.nio.file.FileAlreadyExistsException("layer " + id + " already exists");
          }
          if (p != null && store.get(p).isEmpty()) {
            throw new java.nio.file.NoSuchFileException("parent layer " + p + " does not exist");
          }
          // Recorded as being made first: a crash from here on leaves a record that recovery
          // finds, and it removes whatever the driver made.
          LayerMeta m = new LayerMeta(id, p, rw, null, 0, System.currentTimeMillis(), true);
          store.put(m);
          try {
            driver.create(id, p, rw);
            if (p == null) {
              ownBaseRoot(id);
            }
          } catch (IOException | RuntimeException e) {
            discard(id, e);
            throw e;
          }
          store.put(m.withApplying(false));
          return null;
        });
  }

  /**
   * A base layer's root belongs to the mapped root (Docker's remapped root with --userns-remap), as
   * the layer's own files will.
   */
  private void ownBaseRoot(String id) throws IOException {
    long uid = config.owners().rootUid();
    long gid = config.owners().rootGid();
    if (uid == OwnerMapper.KEEP && gid == OwnerMapper.KEEP) {
      return;
    }
    Path dir = driver.diffDirectory(id);
    io.layerd.sys.Stat st = Sys.lstat(dir.toString());
    if ((uid != OwnerMapper.KEEP && st.uid() != uid)
        || (gid != OwnerMapper.KEEP && st.gid() != gid)) {
      Sys.fchownat(
          Sys.AT_FDCWD,
          io.layerd.sys.Names.bytes(dir.toString()),
          uid,
          gid,
          Sys.AT_SYMLINK_NOFOLLOW);
    }
  }

  public boolean exists(String id) {
    return store.get(LayerIds.check(id)).isPresent();
  }

  /** Remove: a layer with children is refused; a layer still got is unmounted first. */
  public void remove(String id) throws IOException {
    withLock(
        id,
        () -> {
          if (store.get(id).isEmpty() && !driver.exists(id)) {
            return null; // already gone: removal is idempotent, as Docker expects
          }
          List<String> children = store.children(id);
          if (!children.isEmpty()) {
            throw new IOException(
                "layer "
                    + id
                    + " has child layers ("
                    + String.join(", ", children)
                    + "): remove them first");
          }
          synchronized (refs) {
            Path mp = mounted.remove(id);
            refs.remove(id);
            if (mp != null) {
              Mounter.unmount(mp);
              Files.deleteIfExists(mp);
            }
          }
          removeState(id);
          return null;
        });
  }

  /**
   * Get: the directory showing the layer's whole filesystem, mounted on the first get; each get
   * must be matched by a {@link #put}.
   */
  public Path get(String id) throws IOException {
    return withLock(id, () -> getLocked(id));
  }

  private Path getLocked(String id) throws IOException {
    LayerMeta m = meta(id);
    Path current = null;
    synchronized (refs) {
      int n = refs.getOrDefault(id, 0);
      if (n > 0) {
        current = mounted.get(id);
        if (current == null) {
          refs.put(id, n + 1);
          return driver.diffDirectory(id);
        }
      }
    }
    if (current != null) {
      if (Mounter.isStale(current)) {
        // A FUSE helper that died (ENOTCONN): mount the layer again at the same target, so that
        // the path earlier gets returned works again. The per-id lock keeps the count still.
        Mounter.unmount(current);
        Mounter.mount(driver.mounts(id, !m.readWrite()), current);
      }
      synchronized (refs) {
        refs.merge(id, 1, Integer::sum);
      }
      return current;
    }
    List<Mount> mounts = driver.mounts(id, !m.readWrite());
    Path dir;
    if (mounts.isEmpty()) {
      dir = driver.diffDirectory(id);
    } else {
      dir = mountRoot.resolve(id);
      Files.createDirectories(dir);
      Mounter.mount(mounts, dir);
    }
    synchronized (refs) {
      refs.put(id, 1);
      if (!mounts.isEmpty()) {
        mounted.put(id, dir);
      }
    }
    return dir;
  }

  /** Put: releases one get; the last one unmounts. */
  public void put(String id) throws IOException {
    withLock(
        id,
        () -> {
          putLocked(id);
          return null;
        });
  }

  private void putLocked(String id) throws IOException {
    synchronized (refs) {
      int n = refs.getOrDefault(id, 0);
      if (n <= 0) {
        throw new IOException("layer " + id + " is put more often than it was got");
      }
      if (n > 1) {
        refs.put(id, n - 1);
        return;
      }
      refs.remove(id);
      Path mp = mounted.remove(id);
      if (mp != null) {
        Mounter.unmount(mp);
        Files.deleteIfExists(mp);
      }
    }
  }

  /** How many gets of a layer are outstanding. */
  public int references(String id) {
    synchronized (refs) {
      return refs.getOrDefault(id, 0);
    }
  }

  public Map<String, String> metadata(String id) throws IOException {
    meta(id);
    return driver.metadata(id);
  }

  /**
   * Removes what a failed create or apply left of a layer ({@link #removeState}); a failure of that
   * clean-up is added to {@code failure}, and recovery finishes it at the next start.
   */
  private void discard(String id, Exception failure) {
    try {
      removeState(id);
    } catch (IOException cleanup) {
      failure.addSuppressed(cleanup);
    }
  }

  /** Removes a layer's driver state (when there is any), then its record. */
  private void removeState(String id) throws IOException {
    if (driver.exists(id)) {
      driver.remove(id);
    }
    store.delete(id);
  }

  /**
   * ApplyDiff: applies an uncompressed (or compressed) layer tar to a layer made by {@link
   * #create}. A failed or cut-off apply leaves no layer: it is removed entirely.
   */
  public ApplyResult applyDiff(String id, String parent, InputStream tar) throws IOException {
    return withLock(
        id,
        () -> {
          LayerMeta m = meta(id);
          store.put(m.withApplying(true));
          ApplyResult r;
          try {
            try (Fd dir = Sys.openDirectory(driver.diffDirectory(id).toString())) {
              r = applier(m).apply(id, tar, dir.get(), LayerApplier.Expect.NOTHING);
            }
          } catch (IOException | RuntimeException e) {
            discard(id, e);
            throw e;
          }
          // The size Docker's own drivers report: for a driver whose layers are whole copies
          // (vfs, btrfs: Docker's naive diff) the applied files' sizes, which the applier counted;
          // comparing the whole tree with its parent would cost as much as the apply again. For
          // the overlay forms, the diff directory's changes (a walk of that directory only).
          long size =
              driver.deletionForm() == DeletionForm.ABSENT
                  ? r.fileBytes()
                  : changes0(id, m.parent()).size();
          store.put(m.withDiff(r.diffId(), size).withApplying(false));
          return r;
        });
  }

  /**
   * The applier for a layer's diff directory, in the driver's deletion form. For the overlay forms
   * the parents' diff directories (nearest first) are the applier's lower layers, so that a
   * hardlink to a parent's file is copied up as overlayfs would.
   */
  private LayerApplier applier(LayerMeta m) throws IOException {
    DeletionForm form = driver.deletionForm();
    LayerApplier.Builder b = LayerApplier.builder().owners(config.owners());
    switch (form) {
      case OVERLAY_TRUSTED:
        b.whiteouts(WhiteoutMode.OVERLAY).overlayXattrs(OverlayXattrs.TRUSTED).lowers(lowers(m));
        break;
      case OVERLAY_USER:
        b.whiteouts(WhiteoutMode.OVERLAY).overlayXattrs(OverlayXattrs.USER).lowers(lowers(m));
        break;
      case ABSENT:
      default:
        b.whiteouts(WhiteoutMode.APPLY);
        break;
    }
    return b.build();
  }

  /** The diff directories of a layer's parents, nearest first. */
  private List<Path> lowers(LayerMeta m) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String p = m.parent(); p != null; p = store.get(p).map(LayerMeta::parent).orElse(null)) {
      out.add(driver.diffDirectory(p));
      if (out.size() > 1000) {
        throw new IOException("the parent chain of layer " + m.id() + " loops");
      }
    }
    return out;
  }

  /** Changes: what {@code id} changes against {@code parent} (its own parent when null). */
  public List<Change> changes(String id, String parent) throws IOException {
    return withLock(id, () -> changes0(id, parent).changes());
  }

  /** DiffSize: bytes of file content added or modified against the parent. */
  public long diffSize(String id, String parent) throws IOException {
    return withLock(id, () -> changes0(id, parent).size());
  }

  private TreeChanges.Result changes0(String id, String parent) throws IOException {
    LayerMeta m = meta(id);
    String p = parent == null || parent.isEmpty() ? m.parent() : LayerIds.check(parent);
    Optional<List<Change>> nativeChanges = driver.nativeChanges(id, p);
    if (nativeChanges.isPresent()) {
      Path dir = driver.diffDirectory(id);
      long size = 0;
      java.util.Set<String> inodes = new java.util.HashSet<>();
      for (Change c : nativeChanges.get()) {
        if (c.kind() != Change.Kind.DELETED) {
          var st = io.layerd.unpack.RootedPaths.lstatIn(dir, c.path());
          if (st != null && st.isRegular() && (st.nlink() < 2 || inodes.add(st.inodeKey()))) {
            size += st.size(); // a hardlinked inode counts once, as Docker's ChangesSize
          }
        }
      }
      return new TreeChanges.Result(nativeChanges.get(), size);
    }
    Path layerDir = getLocked(id);
    try {
      if (p == null) {
        try (Fd n = Sys.openDirectory(layerDir.toString())) {
          return TreeChanges.compare(n.get(), -1);
        }
      }
      ReentrantLock pl = lockOf(p);
      pl.lock();
      try {
        Path parentDir = getLocked(p);
        try (Fd n = Sys.openDirectory(layerDir.toString());
            Fd o = Sys.openDirectory(parentDir.toString())) {
          return TreeChanges.compare(n.get(), o.get());
        } finally {
          putLocked(p);
        }
      } finally {
        pl.unlock();
      }
    } finally {
      putLocked(id);
    }
  }

  /** Diff: writes {@code id}'s changes against {@code parent} as a layer tar. */
  public long diff(String id, String parent, OutputStream out) throws IOException {
    return withLock(
        id,
        () -> {
          List<Change> changes = changes0(id, parent).changes();
          List<TreePacker.Item> items = new ArrayList<>();
          for (Change c : changes) {
            items.add(new TreePacker.Item(c.path(), c.kind() == Change.Kind.DELETED));
          }
          Path dir = getLocked(id);
          try (Fd d = Sys.openDirectory(dir.toString())) {
            // Owners as the layer states them: ApplyDiff's shift (--userns-remap) undone.
            return TreePacker.pack(d.get(), items, out, config.owners());
          } finally {
            putLocked(id);
          }
        });
  }

  public List<Map.Entry<String, String>> status() throws IOException {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    out.add(Map.entry("Backing Filesystem", config.host().filesystems().probe(root).backingName()));
    out.add(Map.entry("Driver", driver.name()));
    out.add(Map.entry("Data Root", root.toString()));
    out.add(Map.entry("Layers", Integer.toString(store.all().size())));
    for (Map.Entry<String, String> e : driver.status()) {
      if (!e.getKey().equals("Backing Filesystem")) {
        out.add(e);
      }
    }
    return out;
  }

  private LayerMeta meta(String id) throws IOException {
    return store
        .get(LayerIds.check(id))
        .orElseThrow(
            () -> new java.nio.file.NoSuchFileException("layer " + id + " does not exist"));
  }

  /** Cleanup: releases every mount and the data-root's lock. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    IOException first = null;
    synchronized (refs) {
      for (Path mp : mounted.values()) {
        try {
          Mounter.unmount(mp);
          Files.deleteIfExists(mp);
        } catch (IOException e) {
          first = first == null ? e : first;
        }
      }
      mounted.clear();
      refs.clear();
    }
    try {
      driver.close();
    } finally {
      store.close();
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * Stops using the data-root the way a killed process would, for crash tests: the lock is released
   * and the driver closed, but nothing is cleaned up — records of layers being made, half-applied
   * layers and mounts stay for the next {@link #open}'s recovery.
   */
  void abandonForCrashTest() throws IOException {
    synchronized (this) {
      closed = true;
    }
    try {
      driver.close();
    } finally {
      store.close();
    }
  }

  /** Removes a directory tree without following symlinks (staging left-overs). */
  static void removeTree(Path p) throws IOException {
    Path parent = p.toAbsolutePath().getParent();
    try (Fd d = Sys.openDirectory(parent.toString())) {
      io.layerd.sys.Trees.removeAll(d.get(), p.getFileName().toString());
    }
  }
}
