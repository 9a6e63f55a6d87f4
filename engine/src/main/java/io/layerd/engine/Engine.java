package io.layerd.engine;

import io.layerd.engine.internal.DataRoot;
import io.layerd.engine.internal.TreeChanges;
import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
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

  /**
   * Layers got or put since this engine started (guarded by {@code refs}): a Put of a layer not in
   * it, with no reference counted, is taken for the Put of a Get made before a restart (see {@link
   * #put}).
   */
  private final java.util.Set<String> seen = new java.util.HashSet<>();

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
   * (half-made layers removed, staging emptied; a layer's mount that still works is adopted with
   * one reference, other mounts are unmounted; see {@link #put} for a Get made before the start).
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

  /** The facts of the host the engine runs on (kernel, privileges, filesystems). */
  public Host host() {
    return config.host();
  }

  // ------------------------------------------------------------------ recovery

  private void recover() throws IOException {
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
    // Mounts of an earlier process under mnt/: a layer's own mount that still works was got by a
    // client that outlived that process (dockerd with a running container); it is adopted with one
    // reference, released by the client's Put. Any other (a layer gone, a dead FUSE helper, a
    // mount inside a mount) is unmounted.
    for (String mp : mountsUnder(mountRoot)) {
      Path p = Path.of(mp);
      String id = p.getParent().equals(mountRoot) ? p.getFileName().toString() : null;
      if (id != null && !mounted.containsKey(id) && adoptable(id, p)) {
        mounted.put(id, p);
        refs.put(id, 1);
        seen.add(id);
      } else {
        Mounter.unmount(p);
      }
    }
  }

  private boolean adoptable(String id, Path mountPoint) {
    try {
      LayerIds.check(id);
    } catch (IllegalArgumentException notALayer) {
      return false;
    }
    if (store.get(id).isEmpty()) {
      return false;
    }
    return !Mounter.isStale(mountPoint);
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
          Optional<LayerMeta> pm = p == null ? Optional.empty() : store.get(p);
          if (p != null && pm.isEmpty()) {
            throw new java.nio.file.NoSuchFileException("parent layer " + p + " does not exist");
          }
          if (pm.isPresent() && pm.get().applying()) {
            throw new IOException(
                "parent layer " + p + " is being made or applied: create on it once that ends");
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
          refuseChildren(id, "remove them first");
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
      seen.add(id);
      if (!mounts.isEmpty()) {
        mounted.put(id, dir);
      }
    }
    return dir;
  }

  /**
   * Put: releases one get; the last one unmounts. The first Put of a layer after a restart, when no
   * reference is counted (its Get came before the restart and no mount of it survived), releases
   * nothing and is no error; any further Put beyond the Gets is one.
   */
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
        if (store.get(id).isPresent() && seen.add(id)) {
          // The Put of a Get made before a restart, of a layer that needs no mount (or whose
          // mount did not survive): nothing to release. Counts are reconciled with what is
          // mounted at start-up, as moby's RefCounter does on first use (IsMounted).
          return;
        }
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
   * #create}, once. Refused before any work: a layer that already holds an applied diff, a
   * read-write layer, a layer other layers are built on, and a {@code parent} that is not the
   * layer's own (null or empty: not checked). A failed or cut-off apply rolls back what it made:
   * the layer is again as Create made it, and other layers are never touched.
   */
  public ApplyResult applyDiff(String id, String parent, InputStream tar) throws IOException {
    String expectedParent = parent == null || parent.isEmpty() ? null : LayerIds.check(parent);
    return apply(id, expectedParent, tar, LayerApplier.Expect.NOTHING, false, true);
  }

  /**
   * containerd's Apply: an apply into an active snapshot's read-write layer, with the layer's
   * digests checked ({@code expect}: a mismatch fails the apply) and, with {@code sync}, the files
   * flushed to disk before it returns. Refused before any work: a layer that already holds an
   * applied diff or that other layers are built on. A failure rolls back what it made (the layer is
   * again as it was made, empty). The layer's recorded size is the applied files' bytes, and the
   * overlay forms' diff directory is not walked again for Docker's DiffSize (containerd measures
   * its snapshots itself).
   */
  public ApplyResult applyDiff(String id, InputStream tar, LayerApplier.Expect expect, boolean sync)
      throws IOException {
    return apply(id, null, tar, expect, sync, false);
  }

  /**
   * The one apply: {@code graphDriver} for Docker's ApplyDiff (a read-only layer made by Create,
   * its parent checked, Docker's DiffSize recorded), else containerd's (any kind of layer).
   */
  private ApplyResult apply(
      String id,
      String expectedParent,
      InputStream tar,
      LayerApplier.Expect expect,
      boolean sync,
      boolean graphDriver)
      throws IOException {
    return withLock(
        id,
        () -> {
          LayerMeta m = meta(id);
          if (graphDriver) {
            refuseApply(m, expectedParent);
          } else {
            refuseRefill(m);
            refuseChildren(id, "a diff is applied before layers are built on it");
          }
          store.put(m.withApplying(true));
          ApplyResult r;
          try {
            try (Fd dir = Sys.openDirectory(driver.diffDirectory(id).toString())) {
              r = applier(m, config.owners(), sync).apply(id, tar, dir.get(), expect);
            }
          } catch (IOException | RuntimeException e) {
            rollBack(m, e);
            throw e;
          }
          // The size Docker's own drivers report: for a driver whose layers are whole copies
          // (vfs, btrfs: Docker's naive diff) the applied files' sizes, which the applier counted;
          // comparing the whole tree with its parent would cost as much as the apply again. For
          // the overlay forms, the diff directory's changes (a walk of that directory only).
          long size =
              driver.deletionForm() == DeletionForm.ABSENT || !graphDriver
                  ? r.counts().fileBytes()
                  : changes0(id, m.parent()).size();
          store.put(m.withDiff(r.digests().diffId(), size).withApplying(false));
          return r;
        });
  }

  /** What ApplyDiff refuses before touching anything (see {@link #applyDiff}). */
  private void refuseApply(LayerMeta m, String expectedParent) throws IOException {
    String id = m.id();
    if (expectedParent != null && !expectedParent.equals(m.parent())) {
      throw new IllegalArgumentException(
          "ApplyDiff of layer "
              + id
              + " names parent "
              + expectedParent
              + ", but the layer's parent is "
              + (m.parent() == null ? "none (a base layer)" : m.parent()));
    }
    refuseRefill(m);
    if (m.readWrite()) {
      // A container's writes could not be told from the diff's, so a failure could not be undone.
      throw new IllegalArgumentException(
          "layer " + id + " is read-write (a container's): ApplyDiff fills layers made by Create");
    }
    refuseChildren(id, "a diff is applied before layers are built on it");
  }

  /** Refuses an operation on a layer other layers are built on, saying which and why. */
  private void refuseChildren(String id, String why) throws IOException {
    List<String> children = store.children(id);
    if (!children.isEmpty()) {
      throw new IOException(
          "layer " + id + " has child layers (" + String.join(", ", children) + "): " + why);
    }
  }

  /**
   * Undoes a failed apply: the layer's driver state is made again as Create made it and its record
   * restored. Nothing is built on the layer (applyDiff refused that, and Create refuses a parent
   * being applied), so no other layer sees the change. If that fails too, the layer is removed
   * (recovery finishes it at the next start) and the failure is added to {@code failure}.
   */
  private static void refuseRefill(LayerMeta m) throws IOException {
    if (m.diffId() != null) {
      throw new java.nio.file.FileAlreadyExistsException(
          "layer "
              + m.id()
              + " already holds an applied diff ("
              + m.diffId()
              + "): a layer is filled once; create a new layer for another diff");
    }
  }

  private void rollBack(LayerMeta m, Exception failure) {
    try {
      if (driver.exists(m.id())) {
        driver.remove(m.id());
      }
      driver.create(m.id(), m.parent(), m.readWrite());
      if (m.parent() == null) {
        ownBaseRoot(m.id());
      }
      store.put(m.withApplying(false));
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
      discard(m.id(), failure);
    }
  }

  /**
   * The applier for a layer's diff directory, in the driver's deletion form. For the overlay forms
   * the parents' diff directories (nearest first) are the applier's lower layers, so that a
   * hardlink to a parent's file is copied up as overlayfs would.
   */
  private LayerApplier applier(LayerMeta m, OwnerMapper owners, boolean sync) throws IOException {
    DeletionForm form = driver.deletionForm();
    LayerApplier.Builder b = LayerApplier.builder().owners(owners).sync(sync);
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

  /**
   * Makes base layer {@code id} holding {@code from}'s whole tree (its parents' included, as a
   * container sees it) with every owner passed through {@code owners}: a shifted copy, for a user
   * namespace whose ids the layer's own mount cannot map. The tree is written as a tar by one
   * thread ({@link TreePacker}, owners as they are on disk) and applied by this one with {@code
   * owners}, so the copy keeps what an apply keeps (hardlinks, xattrs, devices, times), resolves
   * every name under the root by descriptor, and chowns by descriptor; the root directory gets
   * {@code from}'s mode and its mapped owner. A failure leaves no layer.
   */
  public ApplyResult createShifted(String id, String from, OwnerMapper owners) throws IOException {
    String f = LayerIds.check(from);
    create(id, null);
    try {
      return withLock(
          id,
          () -> {
            LayerMeta m = meta(id);
            store.put(m.withApplying(true));
            ReentrantLock fl = lockOf(f);
            ApplyResult r;
            fl.lock();
            try {
              Path source = getLocked(f);
              try (Fd src = Sys.openDirectory(source.toString());
                  Fd dst = Sys.openDirectory(driver.diffDirectory(id).toString())) {
                r = copyShifted(id, src.get(), dst.get(), applier(m, owners, false));
                io.layerd.sys.Stat root = Sys.fstatat(src.get(), Names.bytes("."), 0);
                Sys.fchownat(
                    dst.get(),
                    Names.bytes("."),
                    owners.uid(root.uid(), null),
                    owners.gid(root.gid(), null),
                    0);
                Sys.fchmodat(dst.get(), Names.bytes("."), root.permissions(), 0);
              } finally {
                putLocked(f);
              }
            } finally {
              fl.unlock();
            }
            store.put(m.withDiff(r.digests().diffId(), r.counts().fileBytes()).withApplying(false));
            return r;
          });
    } catch (IOException | RuntimeException e) {
      try {
        remove(id);
      } catch (IOException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
  }

  /** Packs the tree open as {@code src} on a thread of its own; applies it into {@code dst}. */
  private static ApplyResult copyShifted(String id, int src, int dst, LayerApplier applier)
      throws IOException {
    List<TreePacker.Item> items = new ArrayList<>();
    for (Change c : TreeChanges.compare(src, -1).changes()) {
      items.add(new TreePacker.Item(c.path(), false));
    }
    java.io.PipedInputStream in = new java.io.PipedInputStream(1 << 20);
    java.io.PipedOutputStream out = new java.io.PipedOutputStream(in);
    IOException[] packFailure = {null};
    Thread packer =
        new Thread(
            () -> {
              try (out) {
                TreePacker.pack(src, items, out);
              } catch (IOException e) {
                packFailure[0] = e;
              }
            },
            "layerd-shift-" + id);
    packer.setDaemon(true);
    packer.start();
    ApplyResult r;
    try (in) {
      r = applier.apply(id, in, dst, LayerApplier.Expect.NOTHING);
    } catch (IOException | RuntimeException e) {
      join(packer);
      if (packFailure[0] != null) {
        packFailure[0].addSuppressed(e);
        throw packFailure[0];
      }
      throw e;
    }
    join(packer);
    if (packFailure[0] != null) {
      throw packFailure[0];
    }
    return r;
  }

  private static void join(Thread t) throws IOException {
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while copying a layer");
    }
  }

  /**
   * Gives layer {@code id}'s own root directory the owner {@code owners} maps its present owner to:
   * the root of a container that sees its lower layers through an id mapping must be the mapped
   * root's, as the upper directory's root is what the container sees.
   */
  public void mapRootOwner(String id, OwnerMapper owners) throws IOException {
    withLock(
        id,
        () -> {
          meta(id);
          byte[] dir = Names.bytes(driver.diffDirectory(id).toString());
          io.layerd.sys.Stat st = Sys.lstat(driver.diffDirectory(id).toString());
          Sys.fchownat(
              Sys.AT_FDCWD,
              dir,
              owners.uid(st.uid(), null),
              owners.gid(st.gid(), null),
              Sys.AT_SYMLINK_NOFOLLOW);
          Sys.fchmodat(Sys.AT_FDCWD, dir, st.permissions(), 0); // chown clears setgid
          return null;
        });
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

  /**
   * The disk the layer's own directory takes (its blocks and inodes, as containerd's snapshotters
   * report usage): the layer's changes for a driver that keeps them apart (overlay2), its whole
   * tree for one that does not (vfs, btrfs).
   */
  public DiskUsage diskUsage(String id) throws IOException {
    return withLock(id, () -> DiskUsage.of(driver.diffDirectory(meta(id).id())));
  }

  /** DiffSize: bytes of file content added or modified against the parent. */
  public long diffSize(String id, String parent) throws IOException {
    return withLock(id, () -> changes0(id, parent).size());
  }

  /** Changes found, and whether the driver read them from its own record. */
  private record Found(List<Change> changes, long size, boolean nativeChanges) {
    Found(TreeChanges.Result r) {
      this(r.changes(), r.size(), false);
    }
  }

  /**
   * lstat of a changed path resolved inside the directory {@code rootFd} (symlinks in its parents
   * resolved in the root, the last component not followed), or null when it does not exist.
   */
  private static Stat lstatIn(int rootFd, byte[] path) throws IOException {
    List<byte[]> comps = Names.split(path);
    if (comps.isEmpty()) {
      return Sys.fstat(rootFd);
    }
    byte[] leaf = comps.get(comps.size() - 1);
    if (comps.size() == 1) {
      return Trees.lstatOrNull(rootFd, leaf);
    }
    int pfd;
    try {
      pfd =
          Sys.openInRoot(
              rootFd,
              Names.join(comps.subList(0, comps.size() - 1)),
              Sys.O_PATH | Sys.O_DIRECTORY,
              0);
    } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
      return null;
    }
    try (Fd p = new Fd(pfd)) {
      return Trees.lstatOrNull(p.get(), leaf);
    }
  }

  private Found changes0(String id, String parent) throws IOException {
    LayerMeta m = meta(id);
    String p = parent == null || parent.isEmpty() ? m.parent() : LayerIds.check(parent);
    Optional<List<Change>> nativeChanges = driver.nativeChanges(id, p);
    if (nativeChanges.isPresent()) {
      long size = 0;
      java.util.Set<String> inodes = new java.util.HashSet<>();
      try (Fd dir = Sys.openDirectory(driver.diffDirectory(id).toString())) {
        for (Change c : nativeChanges.get()) {
          if (c.kind() != Change.Kind.DELETED) {
            var st = lstatIn(dir.get(), c.path());
            if (st != null && st.isRegular() && (st.nlink() < 2 || inodes.add(st.inodeKey()))) {
              size += st.size(); // a hardlinked inode counts once, as Docker's ChangesSize
            }
          }
        }
      }
      return new Found(nativeChanges.get(), size, true);
    }
    Path layerDir = getLocked(id);
    try {
      if (p == null) {
        try (Fd n = Sys.openDirectory(layerDir.toString())) {
          return new Found(TreeChanges.compare(n.get(), -1));
        }
      }
      ReentrantLock pl = lockOf(p);
      pl.lock();
      try {
        Path parentDir = getLocked(p);
        try (Fd n = Sys.openDirectory(layerDir.toString());
            Fd o = Sys.openDirectory(parentDir.toString())) {
          return new Found(TreeChanges.compare(n.get(), o.get()));
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
    return diffWithCount(id, parent, out).bytes();
  }

  /** What {@link #diffWithCount} wrote: the tar's bytes and the changes it holds. */
  public record DiffResult(long bytes, int changes, boolean nativeChanges) {}

  /**
   * Diff, saying how many changes the tar holds and whether they were read from the driver's own
   * record (an overlay upper directory) rather than by comparing whole trees.
   */
  public DiffResult diffWithCount(String id, String parent, OutputStream out) throws IOException {
    return withLock(
        id,
        () -> {
          Found found = changes0(id, parent);
          List<Change> changes = found.changes();
          List<TreePacker.Item> items = new ArrayList<>();
          for (Change c : changes) {
            items.add(new TreePacker.Item(c.path(), c.kind() == Change.Kind.DELETED));
          }
          Path dir = getLocked(id);
          try (Fd d = Sys.openDirectory(dir.toString())) {
            // Owners as the layer states them: ApplyDiff's shift (--userns-remap) undone.
            long bytes = TreePacker.pack(d.get(), items, out, config.owners());
            return new DiffResult(bytes, items.size(), found.nativeChanges());
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
