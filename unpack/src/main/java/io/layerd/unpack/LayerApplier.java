package io.layerd.unpack;

import io.layerd.idmap.UnmappedIdException;
import io.layerd.sys.DirEntry;
import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Applies a layer (a tar stream, compressed or not) to a directory, as the OCI image spec's layer
 * rules say, without ever writing outside that directory.
 *
 * <p>Every path is resolved under the root with directory descriptors ({@link RootedTree}): an
 * absolute symlink resolves as if the root were "/", ".." stops at the root, a hardlink's target is
 * resolved in the root without following its last component, and owners, modes, xattrs and times
 * are set on descriptors or with AT_SYMLINK_NOFOLLOW, never through a symlink. An existing entry in
 * the way is unlinked before the new one is made (a directory over a directory is kept), so nothing
 * is ever written through an existing symlink or hardlink.
 *
 * <p>Instances are immutable and thread-safe; use {@link #builder()}.
 */
public final class LayerApplier {
  private static final byte[] WH = {'.', 'w', 'h', '.'};
  private static final byte[] OPAQUE = Names.bytes(".wh..wh..opq");
  private static final byte[] AUFS_META = Names.bytes(".wh..wh.");
  private static final int MAX_WARNINGS = 200;

  private final WhiteoutMode whiteouts;
  private final OverlayXattrs overlayXattrs;
  private final OwnerMapper owners;
  private final boolean strictDevices;
  private final boolean sync;
  private final List<Path> lowers;
  private final int writers;
  private final ApplyProgress progress;

  private LayerApplier(Builder b) {
    this.whiteouts = b.whiteouts;
    this.overlayXattrs = b.overlayXattrs;
    this.owners = b.owners;
    this.strictDevices = b.strictDevices;
    this.sync = b.sync;
    this.lowers = List.copyOf(b.lowers);
    this.writers = b.writers;
    this.progress = b.progress;
  }

  /** What follows this applier's runs ({@link ApplyProgress#NONE} unless the builder gave one). */
  public ApplyProgress progress() {
    return progress;
  }

  /**
   * The default number of writer threads: {@code -Dlayerd.unpack.writers=N}, else one per core, at
   * least one and at most four (creating inodes and copying into the page cache is kernel work that
   * runs beside the decoder and the digest; on tmpfs more writers cost nothing measurable).
   */
  static int defaultWriters() {
    String p = System.getProperty("layerd.unpack.writers");
    if (p != null) {
      try {
        return Math.max(0, Integer.parseInt(p.trim()));
      } catch (NumberFormatException e) {
        // fall through to the default
      }
    }
    return Math.min(4, Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Options of an applier; every one has a default that suits a plain directory. */
  public static final class Builder {
    private WhiteoutMode whiteouts = WhiteoutMode.APPLY;
    private OverlayXattrs overlayXattrs = OverlayXattrs.TRUSTED;
    private List<Path> lowers = List.of();
    private OwnerMapper owners = Sys.geteuid() == 0 ? OwnerMapper.identity() : OwnerMapper.keep();
    private boolean strictDevices;
    private boolean sync;
    private int writers = defaultWriters();
    private ApplyProgress progress = ApplyProgress.NONE;

    private Builder() {}

    /** Told how each apply advances (default: nothing is). */
    public Builder progress(ApplyProgress p) {
      this.progress = Objects.requireNonNull(p);
      return this;
    }

    /**
     * Threads that create and write regular files beside the applying thread (default: {@code
     * -Dlayerd.unpack.writers}, else one per core, one to four); 0 writes everything on the
     * applying thread. Every ordering rule of the archive holds either way.
     */
    public Builder writers(int threads) {
      if (threads < 0) {
        throw new IllegalArgumentException("writers must be 0 or more");
      }
      this.writers = threads;
      return this;
    }

    /** How whiteouts are applied (default: APPLY). */
    public Builder whiteouts(WhiteoutMode mode) {
      this.whiteouts = Objects.requireNonNull(mode);
      return this;
    }

    /** Which xattr namespace OVERLAY whiteouts use (default: TRUSTED). */
    public Builder overlayXattrs(OverlayXattrs x) {
      this.overlayXattrs = Objects.requireNonNull(x);
      return this;
    }

    /**
     * How tar owners become chown ids (default: identity as root or in a user namespace, keep
     * otherwise).
     */
    public Builder owners(OwnerMapper mapper) {
      this.owners = Objects.requireNonNull(mapper);
      return this;
    }

    /** Fail on a device node that cannot be made, instead of skipping and counting it. */
    public Builder strictDevices(boolean strict) {
      this.strictDevices = strict;
      return this;
    }

    /** Flush the target's filesystem (syncfs) before returning. */
    /**
     * The read-only lower layers under the target, nearest first, for OVERLAY mode: a hardlink
     * whose target only a lower layer holds copies that file up first (with every other visible
     * name of it, as one group), as overlayfs would, and then links to the copy.
     */
    public Builder lowers(List<Path> dirs) {
      this.lowers = List.copyOf(dirs);
      return this;
    }

    public Builder sync(boolean sync) {
      this.sync = sync;
      return this;
    }

    public LayerApplier build() {
      return new LayerApplier(this);
    }
  }

  /**
   * What the caller expects of a layer; null fields are not checked. Each given value is checked
   * when made, before any work: {@code sha256:} and 64 hex digits (the one algorithm layerd
   * verifies), else IllegalArgumentException naming the value.
   */
  public record Expect(String digest, String diffId) {
    public static final Expect NOTHING = new Expect(null, null);

    private static final java.util.regex.Pattern SHA256 =
        java.util.regex.Pattern.compile("(?i)sha256:[0-9a-f]{64}");

    public Expect {
      checkDigest("digest", digest);
      checkDigest("diffID", diffId);
    }

    private static void checkDigest(String what, String value) {
      if (value != null && !SHA256.matcher(value).matches()) {
        throw new IllegalArgumentException(
            "the expected "
                + what
                + " '"
                + Names.brief(Names.bytes(value))
                + "' is not a sha256 digest: give sha256: and 64 hex digits"
                + (value.indexOf(':') > 0 && !value.regionMatches(true, 0, "sha256:", 0, 7)
                    ? " (layerd verifies only sha256)"
                    : ""));
      }
    }
  }

  /** Applies a layer to the directory {@code target}, which must exist. */
  public ApplyResult apply(String layerName, InputStream layer, Path target, Expect expect)
      throws IOException {
    try (Fd root = Sys.openDirectory(target.toString())) {
      return apply(layerName, layer, root.get(), expect);
    }
  }

  /**
   * Applies a layer to the directory open as {@code rootFd}. On failure the target may hold part of
   * the layer: callers that must not show a half-made layer apply into a staging directory.
   */
  public ApplyResult apply(String layerName, InputStream layer, int rootFd, Expect expect)
      throws IOException {
    long cpu = LayerPipeline.cpu();
    LayerPipeline.trace("apply starts");
    Run run = new Run(layerName, rootFd);
    LayerPipeline opened;
    try {
      opened = LayerPipeline.start(layer); // reads the magic; decoding and digests run beside
      progress.reading(opened::bytesRead);
    } catch (IOException ex) {
      throw new LayerApplyException(layerName, null, -1, ex);
    }
    try (LayerPipeline stream = opened;
        RootedTree tree = new RootedTree(rootFd, run::implied, run::beforeCreating);
        LowerFds lowerFds = LowerFds.open(whiteouts == WhiteoutMode.OVERLAY ? lowers : List.of());
        Writers pool = writers > 0 ? new Writers(writers, WRITE_QUEUE) : null) {
      run.tree = tree;
      run.writers = pool;
      if (pool != null) {
        stream.tar().beforeWait(pool::flush); // no file waits in a batch while the reader waits
      }
      if (!lowerFds.fds.isEmpty()) {
        run.copyUp = new CopyUp(lowerFds.fds, overlayXattrs);
      }
      TarReader reader = new TarReader(stream.tar());
      TarEntry e = null;
      try {
        while ((e = reader.next()) != null) {
          run.entries++;
          if ((run.entries & 63) == 0) {
            progress.advanced(stream.bytesRead(), run.entries);
          }
          run.apply(e, reader);
          if (pool != null && pool.failure() != null) {
            break;
          }
        }
        e = null;
        progress.advanced(stream.bytesRead(), run.entries);
        LayerPipeline.trace("tar read");
        if (pool != null) {
          run.drain();
        }
        LayerPipeline.trace("writers idle");
        run.finishDirectoryTimes();
        LayerPipeline.trace("directory times set");
      } catch (LayerApplyException | UnmappedIdException ex) {
        throw ex; // the unmapped-id error already names the layer, the entry and the remedy
      } catch (InvalidArchiveException ex) {
        throw new LayerApplyException(layerName, null, ex.offset(), ex);
      } catch (IOException ex) {
        run.rethrowWriterFailure();
        throw new LayerApplyException(
            layerName, e == null ? null : e.displayName(), e == null ? -1 : e.offset(), ex);
      } catch (RuntimeException ex) {
        run.rethrowWriterFailure();
        throw new LayerApplyException(
            layerName,
            e == null ? null : e.displayName(),
            e == null ? -1 : e.offset(),
            new IOException(ex.toString(), ex));
      } finally {
        run.releaseDirRef(); // the writers' jobs hold their own references
      }
      LayerStream.Digests d;
      try {
        d = stream.finish();
      } catch (IOException ex) {
        throw new LayerApplyException(layerName, null, -1, ex);
      }
      check(layerName, "digest", expect.digest(), d.digest());
      check(layerName, "diffID", expect.diffId(), d.diffId());
      if (sync) {
        Sys.syncfs(rootFd);
      }
      LayerPipeline.traceSince("applied (CPU of the apply)", cpu);
      return new ApplyResult(
          layerName,
          d.compression(),
          run.entries,
          d.compressedSize(),
          d.uncompressedSize(),
          d.digest(),
          d.diffId(),
          run.files,
          run.fileBytes,
          run.dirs,
          run.symlinks,
          run.hardlinks,
          run.whiteoutCount,
          run.skippedDevices,
          run.refusedXattrs.get(),
          run.keptOwners,
          run.warnings());
    }
  }

  /** Files queued for the writers at most (with their contents' chunks). */
  private static final int WRITE_QUEUE = 128;

  /**
   * Open descriptors of files handed to the writers at most (files the applying thread made, in
   * directories this apply did not make): then it waits for the writers.
   */
  private static final int MAX_HELD_DESCRIPTORS = 64;

  /** Files up to this size go to the writers; larger ones stream on the applying thread. */
  private static final long POOLED_FILE = 1 << 20;

  private static final int FILE_FLAGS = Sys.O_WRONLY | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW;

  /** A directory descriptor shared by the writers' jobs in it; closed by the last one. */
  static final class DirRef {
    final int fd;
    private final AtomicInteger refs = new AtomicInteger(1);

    DirRef(int fd) {
      this.fd = fd;
    }

    void retain() {
      refs.incrementAndGet();
    }

    void release() {
      if (refs.decrementAndGet() == 0) {
        Sys.closeQuietly(fd);
      }
    }
  }

  /** Descriptors of the lower layers' directories, open for one apply. */
  private static final class LowerFds implements AutoCloseable {
    final List<Integer> fds = new ArrayList<>();

    static LowerFds open(List<Path> dirs) throws IOException {
      LowerFds l = new LowerFds();
      try {
        for (Path d : dirs) {
          l.fds.add(
              Sys.openat(
                  Sys.AT_FDCWD, Names.bytes(d.toString()), Sys.O_RDONLY | Sys.O_DIRECTORY, 0));
        }
      } catch (IOException | RuntimeException e) {
        l.close();
        throw e;
      }
      return l;
    }

    @Override
    public void close() {
      for (int fd : fds) {
        Sys.closeQuietly(fd);
      }
    }
  }

  private static void check(String layer, String what, String expected, String actual)
      throws LayerApplyException {
    if (expected != null && !expected.equalsIgnoreCase(actual)) {
      throw new LayerApplyException(
          layer,
          null,
          -1,
          new DigestMismatchException(
              what
                  + " mismatch: expected "
                  + expected
                  + " but the layer's bytes give "
                  + actual
                  + " (a corrupt or substituted layer)"));
    }
  }

  /** One application: the mutable state of applying one layer. */
  private final class Run {
    final String layer;
    final int rootFd;
    RootedTree tree;
    final Set<String> created = new HashSet<>();

    /** The directories leading to what this layer made (implied ones too), by the same keys. */
    final Set<String> ancestors = new HashSet<>();

    final List<DirTime> dirTimes = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>(); // guarded by itself
    long entries;
    long files;
    long fileBytes;
    long dirs;
    long symlinks;
    long hardlinks;
    long whiteoutCount;
    long skippedDevices;
    final AtomicLong refusedXattrs = new AtomicLong(); // writers count too
    long keptOwners;

    /** The threads finishing regular files, or null to finish them here. */
    Writers writers;

    /** This layer's owner mapping (it names the layer in its errors). */
    final OwnerMapper owners;

    /** Copy-up from the lower layers (OVERLAY mode with lowers given), else null. */
    CopyUp copyUp;

    Run(String layer, int rootFd) {
      this.layer = layer;
      this.rootFd = rootFd;
      this.owners = LayerApplier.this.owners.forLayer(layer);
    }

    /** Records an entry this layer made, and the directories on its way. */
    void made(List<byte[]> comps) {
      made(RootedTree.key(comps, comps.size()));
    }

    void made(String key) {
      created.add(key);
      for (int i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
        if (!ancestors.add(key.substring(0, i))) {
          break; // and every shorter one is there too
        }
      }
    }

    void warn(String w) {
      synchronized (warnings) {
        if (warnings.size() < MAX_WARNINGS) {
          warnings.add(w);
        } else if (warnings.size() == MAX_WARNINGS) {
          warnings.add("(further warnings not shown)");
        }
      }
    }

    List<String> warnings() {
      synchronized (warnings) {
        return List.copyOf(warnings);
      }
    }

    /** Throws a writer's failure as the applier would have thrown it for that entry. */
    void rethrow(Writers.Failure f) throws IOException {
      if (f == null) {
        return;
      }
      Throwable t = f.error();
      TarEntry e = f.entry();
      if (t instanceof LayerApplyException || t instanceof UnmappedIdException) {
        throw (IOException) t;
      }
      if (t instanceof Error) {
        throw (Error) t;
      }
      IOException cause =
          t instanceof IOException ? (IOException) t : new IOException(t.toString(), t);
      throw new LayerApplyException(layer, e.displayName(), e.offset(), cause);
    }

    /**
     * When the applying thread failed after a writer did (e.g. a queue given up), the writer's
     * failure is the one to report.
     */
    void rethrowWriterFailure() throws IOException {
      if (writers != null) {
        rethrow(writers.failure());
      }
    }

    /** A directory made because an entry's parent was missing: 0755 and root's owner. */
    void implied(int parentFd, byte[] name, boolean overWhiteout) throws IOException {
      Sys.fchmodat(parentFd, name, 0755, 0);
      if (overWhiteout && whiteouts == WhiteoutMode.OVERLAY) {
        // Made where this layer put a whiteout: it must hide the lower directory's contents.
        markOpaque(Names.display(name), parentFd, name);
      }
      long uid = owners.rootUid();
      long gid = owners.rootGid();
      if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
        Sys.fchownat(parentFd, name, uid, gid, Sys.AT_SYMLINK_NOFOLLOW);
      }
    }

    void apply(TarEntry e, TarReader reader) throws IOException {
      List<byte[]> comps = clean(e.name());
      if (comps.isEmpty()) {
        if (e.type() == TarEntry.Type.DIRECTORY) {
          applyRoot(e);
        } else if (e.name().length > 0) {
          warn("ignored " + e.type() + " entry '" + e.displayName() + "' naming the root");
        }
        return;
      }
      byte[] leaf = comps.get(comps.size() - 1);
      int n = comps.size() - 1;
      boolean isWhiteout = whiteouts != WhiteoutMode.KEEP && startsWith(leaf, WH);
      key = RootedTree.key(comps, comps.size());
      parentKey = n == 0 ? "" : key.substring(0, key.lastIndexOf('/'));
      deferCreate = !isWhiteout && e.type() == TarEntry.Type.FILE && deferrable(e);
      if (!deferCreate && !pending.isEmpty() && mustDrain(e, isWhiteout)) {
        drain();
      }
      if (isWhiteout) {
        whiteout(e, comps, leaf);
        return;
      }
      switch (e.type()) {
        case DIRECTORY:
          directory(e, comps, leaf, n);
          break;
        case FILE:
          file(e, comps, leaf, n, reader);
          break;
        case SYMLINK:
          symlink(e, comps, leaf, n);
          break;
        case HARDLINK:
          hardlink(e, comps, leaf, n);
          break;
        case CHAR_DEVICE:
        case BLOCK_DEVICE:
        case FIFO:
          node(e, comps, leaf, n);
          break;
        case UNKNOWN:
        default:
          warn("skipped '" + e.displayName() + "': an entry type layerd does not apply");
          break;
      }
    }

    // ---------------------------------------------------------------- creation by the writers
    //
    // A regular file whose name is new in a directory this apply made (so nothing else can be
    // there) is created by a writer, not here: the kernel's work of making an inode then runs in
    // parallel with the next entries (on ext4 it is most of the work). Names stay in archive
    // order because every other entry that could meet such a file first waits for the writers
    // (drain): a name used before, a directory not made by this apply (or reached otherwise than
    // by its own name), whiteouts, hardlinks and devices.

    /** The entry being applied: its key, its directory's key, whether a writer creates it. */
    String key;

    String parentKey;
    boolean deferCreate;

    /** Directories this apply made (mkdir), by key; valid while the tree's generation holds. */
    final Map<String, RootedTree.DirId> freshDirs = new HashMap<>();

    /** The same, by identity: a fresh directory reached under another name shows here. */
    final Map<RootedTree.DirId, String> freshById = new HashMap<>();

    int freshGeneration;

    /** Files whose creation was handed to the writers since they were last drained. */
    final Set<String> pending = new HashSet<>();

    /** The directory of the last file handed over (shared by its neighbours), and its key. */
    DirRef dirRef;

    String dirRefKey;
    int dirRefGeneration;

    boolean fresh(String dirKey) {
      if (tree.generation() != freshGeneration) {
        forgetFresh(); // something was removed or replaced: trust no earlier mkdir
        freshGeneration = tree.generation();
      }
      return freshDirs.containsKey(dirKey);
    }

    void forgetFresh() {
      freshDirs.clear();
      freshById.clear();
    }

    /**
     * The directory of the entry being applied (made as needed), {@code tree.dir(comps, n, true)}
     * with the writers' bookkeeping kept sound. That bookkeeping knows names by the archive's
     * spelling, so it holds only while every name in a fresh directory was made under that
     * directory's own name. When the lookup reached a fresh directory under another name (through a
     * symlink), or made directories through a symlink, names may now stand where the spelling says
     * nothing is: the writers are waited for and no directory counts as fresh any more.
     * (Directories are made only after {@link #beforeCreating} waited for the writers.)
     */
    int parent(List<byte[]> comps, int n) throws IOException {
      int pfd = tree.dir(comps, n, true);
      boolean elsewhere = tree.takeWalkedSymlink();
      if (!elsewhere && !freshById.isEmpty()) {
        String k = freshById.get(tree.identity(pfd));
        elsewhere = k != null && !k.equals(parentKey);
      }
      if (elsewhere) {
        drainPending();
        forgetFresh();
        deferCreate = false;
      }
      return pfd;
    }

    /** Before the tree makes missing directories: no writer may be creating a name there. */
    void beforeCreating() throws IOException {
      drainPending();
    }

    /** Waits for the writers when a name is still to be made by one. */
    void drainPending() throws IOException {
      if (!pending.isEmpty()) {
        drain();
      }
    }

    boolean deferrable(TarEntry e) {
      return writers != null
          && whiteouts != WhiteoutMode.OVERLAY
          && copyUp == null
          && e.sparse() == null
          && e.size() <= POOLED_FILE
          && fresh(parentKey)
          && !created.contains(key)
          && !ancestors.contains(key)
          && !pending.contains(key);
    }

    /** Whether this entry could meet a file a writer has yet to create. */
    boolean mustDrain(TarEntry e, boolean isWhiteout) {
      if (isWhiteout) {
        return true;
      }
      switch (e.type()) {
        case DIRECTORY:
        case SYMLINK:
        case FILE:
          break;
        default:
          return true; // hardlinks (their targets), devices, the rest: rare, so simply wait
      }
      return !fresh(parentKey)
          || created.contains(key)
          || ancestors.contains(key)
          || pending.contains(key);
    }

    /** Waits for the writers: every file handed over exists (or the apply fails here). */
    void drain() throws IOException {
      writers.awaitIdle();
      rethrow(writers.failure());
      pending.clear();
      heldDescriptors = 0;
    }

    /** Handed-over files whose descriptor is open (made here, not by a writer) since a drain. */
    int heldDescriptors;

    /** The directory a handed-over file is made in, open for the writers (O_PATH). */
    DirRef dirRef(int pfd) throws IOException {
      if (dirRef != null && dirRefKey.equals(parentKey) && dirRefGeneration == tree.generation()) {
        return dirRef;
      }
      releaseDirRef();
      dirRef = new DirRef(Sys.openat(pfd, new byte[] {'.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0));
      dirRefKey = parentKey;
      dirRefGeneration = tree.generation();
      return dirRef;
    }

    void releaseDirRef() {
      if (dirRef != null) {
        dirRef.release();
        dirRef = null;
      }
    }

    /** Makes room for a new entry: removes what is there unless both are directories. */
    Stat clear(int pfd, byte[] leaf, boolean keepDirectory) throws IOException {
      Stat old = RootedTree.statOrNull(pfd, leaf);
      if (old == null) {
        return null;
      }
      if (keepDirectory && old.isDirectory()) {
        return old;
      }
      if (RootedTree.removeAll(pfd, leaf)) {
        tree.invalidate();
      }
      return null;
    }

    void directory(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
      int pfd = parent(comps, n);
      boolean overWhiteout = whiteouts == WhiteoutMode.OVERLAY && isWhiteout(pfd, leaf);
      // Made first; only a name already there (EEXIST) is looked at and cleared.
      int r = overWhiteout ? -Errno.EEXIST.number() : Sys.tryMkdirat(pfd, leaf, 0700);
      boolean made = r == 0;
      if (r == -Errno.EEXIST.number()) {
        Stat old = clear(pfd, leaf, true);
        if (old == null) {
          Sys.mkdirat(pfd, leaf, 0700);
        }
      } else if (r < 0) {
        throw Sys.error("mkdirat", -r, pfd, leaf);
      }
      try (Fd fd =
          new Fd(Sys.openat(pfd, leaf, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
        RootedTree.DirId id = null;
        if (made && writers != null) {
          fresh(parentKey); // (drops stale ones first)
          Stat st = Sys.fstat(fd.get());
          id = new RootedTree.DirId(st.dev(), st.ino());
          freshDirs.put(key, id);
          freshById.put(id, key);
        }
        ownModeXattrs(e, fd.get());
        if (overWhiteout) {
          // Made again after its whiteout: it must hide the lower directory's contents.
          writeXattr(e.displayName(), fd.get(), null, overlayXattrs.opaque(), new byte[] {'y'});
        }
        if (made && tree.adopt(key, fd.get(), id)) {
          fd.release(); // the tree's lookup of this directory now: its entries need no openat2
        }
      }
      made(comps);
      dirTimes.add(new DirTime(comps, e));
      dirs++;
    }

    void applyRoot(TarEntry e) throws IOException {
      ownModeXattrs(e, rootFd);
      dirTimes.add(new DirTime(List.of(), e));
    }

    void file(TarEntry e, List<byte[]> comps, byte[] leaf, int n, TarReader reader)
        throws IOException {
      int pfd = parent(comps, n);
      FileJob job;
      if (deferCreate) {
        job = new FileJob(e, -1); // made by a writer, in a directory nothing else writes to
        job.dir = dirRef(pfd);
        job.dir.retain();
        job.leaf = leaf;
        pending.add(key);
      } else {
        int fd = Sys.tryOpenat(pfd, leaf, FILE_FLAGS, 0600);
        if (fd == -Errno.EEXIST.number()) {
          clear(pfd, leaf, false); // whatever is in the way goes; then created exclusively
          fd = Sys.openat(pfd, leaf, FILE_FLAGS, 0600);
        } else if (fd < 0) {
          throw Sys.error("openat", -fd, pfd, leaf);
        }
        job = new FileJob(e, fd);
      }
      boolean pooled = writers != null && e.sparse() == null && e.size() <= POOLED_FILE;
      try {
        job.uid = owners.uid(e.uid(), e);
        job.gid = owners.gid(e.gid(), e);
        if (job.uid == OwnerMapper.KEEP || job.gid == OwnerMapper.KEEP) {
          keptOwners++;
        }
        if (pooled) {
          Chunks.Slice piece;
          while ((piece = reader.slice(Integer.MAX_VALUE)) != null) {
            job.slices.add(piece);
          }
        } else {
          writeContent(e, job.fd, reader);
        }
      } catch (Throwable ex) { // an Error too: the job's descriptor and directory go back
        job.abandon();
        throw ex;
      }
      made(key);
      files++;
      fileBytes += e.size();
      if (pooled) {
        boolean holds = job.fd >= 0;
        writers.submit(job, e.size());
        if (holds && ++heldDescriptors >= MAX_HELD_DESCRIPTORS) {
          drain(); // a few layers applied at once must not run a daemon out of descriptors
        }
      } else {
        job.run(); // here: a large or sparse file (already written), or no writers
      }
    }

    /** A regular file to finish: its contents (unless written already), then its attributes. */
    final class FileJob implements Writers.Job {
      final TarEntry e;
      final List<Chunks.Slice> slices = new ArrayList<>(2);
      int fd;
      long uid;
      long gid;

      /** For a file the writer creates: its directory and name. */
      DirRef dir;

      byte[] leaf;

      FileJob(TarEntry e, int fd) {
        this.e = e;
        this.fd = fd;
      }

      @Override
      public TarEntry entry() {
        return e;
      }

      @Override
      public void run() throws IOException {
        try {
          if (fd < 0) {
            int f = Sys.tryOpenat(dir.fd, leaf, FILE_FLAGS, 0600);
            if (f < 0) {
              throw Sys.error("openat", -f, dir.fd, leaf);
            }
            fd = f;
          }
          for (Chunks.Slice piece : slices) {
            Sys.writeFully(fd, piece.bytes);
            piece.release();
          }
          finishFile(e, fd, uid, gid);
          int f = fd;
          fd = -1;
          Sys.close(f);
        } finally {
          abandon();
        }
      }

      @Override
      public void abandon() {
        for (Chunks.Slice piece : slices) {
          piece.release();
        }
        slices.clear();
        if (fd >= 0) {
          Sys.closeQuietly(fd);
          fd = -1;
        }
        if (dir != null) {
          dir.release();
          dir = null;
        }
      }
    }

    /** Owner, mode, xattrs and times of a regular file, on its descriptor (a writer's thread). */
    void finishFile(TarEntry e, int fd, long uid, long gid) throws IOException {
      ownModeXattrs(e, fd, uid, gid);
      Sys.futimens(fd, e.atimeSec(), e.atimeNsec(), e.mtimeSec(), e.mtimeNsec());
    }

    void writeContent(TarEntry e, int fd, TarReader reader) throws IOException {
      if (e.sparse() == null) {
        copy(fd, reader, Long.MAX_VALUE, -1);
        return;
      }
      // A sparse file: each data segment at its offset, the holes left as holes.
      for (long[] seg : e.sparse()) {
        copy(fd, reader, seg[1], seg[0]);
      }
      Sys.ftruncate(fd, e.size());
    }

    /** Copies up to {@code limit} bytes of entry data, at {@code at} (or the file offset if -1). */
    void copy(int fd, TarReader reader, long limit, long at) throws IOException {
      long left = limit;
      long pos = at;
      while (left > 0) {
        Chunks.Slice piece = reader.slice((int) Math.min(Integer.MAX_VALUE, left));
        if (piece == null) {
          if (limit != Long.MAX_VALUE) {
            throw new InvalidArchiveException("a sparse segment is cut short", reader.position());
          }
          return;
        }
        try {
          int r = piece.length();
          if (pos < 0) {
            Sys.writeFully(fd, piece.bytes);
          } else {
            Sys.pwriteFully(fd, piece.bytes, pos);
            pos += r;
          }
          left -= r;
        } finally {
          piece.release();
        }
      }
    }

    void symlink(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
      int pfd = parent(comps, n);
      int r = Sys.trySymlinkat(e.linkName(), pfd, leaf);
      if (r == -Errno.EEXIST.number()) {
        clear(pfd, leaf, false);
        Sys.symlinkat(e.linkName(), pfd, leaf);
        tree.invalidate(); // a lookup cached through this name would now resolve differently
      } else if (r < 0) {
        throw Sys.error("symlinkat", -r, pfd, leaf, Sys.AT_FDCWD, e.linkName());
      }
      // A new name (no EEXIST): no cached lookup can have gone through it, since a lookup only
      // passes through names that exist, and removing a directory or symlink flushes the cache.
      chownAt(e, pfd, leaf);
      xattrsAt(e, pfd, leaf);
      timesAt(e, pfd, leaf);
      made(comps);
      symlinks++;
    }

    void hardlink(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
      List<byte[]> target = clean(e.linkName());
      if (target.isEmpty()) {
        throw new InvalidArchiveException(
            "hardlink '" + e.displayName() + "' points at the root", e.offset());
      }
      parent(comps, n); // made before the target is looked up; found again below
      int tpfd = tree.dir(target, target.size() - 1, false);
      byte[] tleaf = target.get(target.size() - 1);
      Stat tst = tpfd < 0 ? null : RootedTree.statOrNull(tpfd, tleaf);
      if (tst == null && copyUp != null) {
        int index = copyUp.find(rootFd, target);
        if (index >= 0) {
          copyUp.copyGroup(tree, target, index);
          tpfd = tree.dir(target, target.size() - 1, false);
          tst = tpfd < 0 ? null : RootedTree.statOrNull(tpfd, tleaf);
        }
      }
      if (tst == null) {
        throw new InvalidArchiveException(
            "hardlink '"
                + e.displayName()
                + "' points at '"
                + e.displayLinkName()
                + "', which does not exist (in this layer before it, or in the layers below)",
            e.offset());
      }
      if (tst.isDirectory()) {
        throw new InvalidArchiveException(
            "hardlink '"
                + e.displayName()
                + "' points at the directory '"
                + e.displayLinkName()
                + "'",
            e.offset());
      }
      // pfd may have been evicted by the second lookup only if the cache was invalidated, which
      // lookups never do; look it up again to be sure it is the live descriptor.
      int pfd = tree.dir(comps, n, true);
      int from = tpfd < 0 ? rootFd : tpfd;
      int r = Sys.tryLinkat(from, tleaf, pfd, leaf, 0);
      if (r == -Errno.EEXIST.number()) {
        Stat old = RootedTree.statOrNull(pfd, leaf);
        if (old != null && old.dev() == tst.dev() && old.ino() == tst.ino()) {
          hardlinks++;
          return; // already that very file
        }
        clear(pfd, leaf, false);
        Sys.linkat(from, tleaf, pfd, leaf, 0);
      } else if (r < 0) {
        throw Sys.error("linkat", -r, pfd, leaf, from, tleaf);
      }
      made(comps);
      hardlinks++;
    }

    void node(TarEntry e, List<byte[]> comps, byte[] leaf, int n) throws IOException {
      int pfd = parent(comps, n);
      clear(pfd, leaf, false);
      int type =
          e.type() == TarEntry.Type.CHAR_DEVICE
              ? Sys.S_IFCHR
              : e.type() == TarEntry.Type.BLOCK_DEVICE ? Sys.S_IFBLK : Sys.S_IFIFO;
      try {
        Sys.mknodat(pfd, leaf, type | (e.permissions() & 0777), e.devMajor(), e.devMinor());
      } catch (IOException ex) {
        if (!strictDevices && type != Sys.S_IFIFO && NativeFailure.errnoOf(ex) == Errno.EPERM) {
          skippedDevices++;
          warn(
              "skipped device '"
                  + e.displayName()
                  + "' ("
                  + e.devMajor()
                  + ","
                  + e.devMinor()
                  + "): mknod is not permitted here (a user namespace)");
          return;
        }
        throw ex;
      }
      chownAt(e, pfd, leaf);
      Sys.fchmodat(pfd, leaf, e.permissions(), 0);
      xattrsAt(e, pfd, leaf);
      timesAt(e, pfd, leaf);
      made(comps);
    }

    // ------------------------------------------------------------------ whiteouts

    void whiteout(TarEntry e, List<byte[]> comps, byte[] leaf) throws IOException {
      whiteoutCount++;
      int n = comps.size() - 1;
      if (Arrays.equals(leaf, OPAQUE)) {
        opaque(e, comps, n);
        return;
      }
      if (startsWith(leaf, AUFS_META)) {
        return; // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not content
      }
      byte[] victim = Arrays.copyOfRange(leaf, WH.length, leaf.length);
      if (victim.length == 0 || Names.isDot(victim) || Names.isDotDot(victim)) {
        throw new InvalidArchiveException(
            "invalid whiteout '" + e.displayName() + "': it names no file in its directory",
            e.offset());
      }
      // A whiteout hides what the lower layers have at NAME, never what this layer makes there,
      // before or after the whiteout: when this layer made NAME (or something below it), NAME
      // stays and only the lower contents of a directory NAME are hidden.
      List<byte[]> victimPath = new ArrayList<>(comps.subList(0, n));
      victimPath.add(victim);
      String victimKey = RootedTree.key(victimPath, victimPath.size());
      boolean ours = created.contains(victimKey) || ancestors.contains(victimKey);
      if (whiteouts == WhiteoutMode.OVERLAY) {
        int pfd = tree.dir(comps, n, false);
        if (pfd < 0) {
          if (blocked(comps, n)) {
            return; // e.g. ".wh.foo" then "foo/.wh.bar": foo is already a whiteout
          }
          // The upper directory lacks the parent (the layer has no entry for it): make it, or the
          // whiteout is lost and the lower file shows through.
          pfd = tree.dir(comps, n, true);
        }
        if (ours) {
          Stat st = RootedTree.statOrNull(pfd, victim);
          if (st != null && st.isDirectory()) {
            markOpaque(e.displayName(), pfd, victim);
          }
          return; // a non-directory of the upper layer hides the lower NAME by itself
        }
        clear(pfd, victim, false);
        Sys.mknodat(pfd, victim, Sys.S_IFCHR, 0, 0);
        chownAt(e, pfd, victim);
        return;
      }
      int pfd = tree.dir(comps, n, false);
      if (pfd < 0) {
        return; // the parent is not there (or not a directory): nothing to hide
      }
      if (ours) {
        Stat st = RootedTree.statOrNull(pfd, victim);
        if (st != null && st.isDirectory()) {
          try (Fd d =
              new Fd(Sys.openat(pfd, victim, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
            if (hideLower(d.get(), victimKey)) {
              tree.invalidate();
            }
          }
        }
        return;
      }
      Stat parent = Sys.fstat(pfd);
      if (RootedTree.removeAll(pfd, victim)) {
        tree.invalidate();
      }
      keepTimes(pfd, parent);
    }

    static boolean isWhiteout(int parentFd, byte[] name) throws IOException {
      Stat st = RootedTree.statOrNull(parentFd, name);
      return st != null && st.isWhiteoutDevice();
    }

    /** Sets the overlay opaque marker on the directory {@code name} of {@code parentFd}. */
    void markOpaque(String entry, int parentFd, byte[] name) throws IOException {
      try (Fd d =
          new Fd(Sys.openat(parentFd, name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
        writeXattr(entry, d.get(), null, overlayXattrs.opaque(), new byte[] {'y'});
      }
    }

    /**
     * True when a file, device or fifo (not a directory, not a symlink) stands on the path of the
     * first {@code n} components, so that nothing can lie below it.
     */
    boolean blocked(List<byte[]> comps, int n) throws IOException {
      for (int i = 1; i <= n; i++) {
        if (tree.dir(comps, i, false) >= 0) {
          continue;
        }
        int pfd = tree.dir(comps, i - 1, false);
        Stat st = pfd < 0 ? null : RootedTree.statOrNull(pfd, comps.get(i - 1));
        return st != null && !st.isDirectory() && !st.isSymlink();
      }
      return false;
    }

    void opaque(TarEntry e, List<byte[]> comps, int n) throws IOException {
      int dfd = tree.dir(comps, n, true);
      if (whiteouts == WhiteoutMode.OVERLAY) {
        // dfd is an O_PATH descriptor, which fsetxattr refuses (EBADF): open the directory itself.
        try (Fd d = new Fd(Sys.openat(dfd, new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
          writeXattr(e.displayName(), d.get(), null, overlayXattrs.opaque(), new byte[] {'y'});
        }
        if (n == 0) {
          warn(
              "'"
                  + e.displayName()
                  + "' makes the top directory opaque, which overlayfs ignores on an upper layer's"
                  + " root: the lower layers' top-level entries stay visible");
        }
        return;
      }
      String dirKey = RootedTree.key(comps, n);
      Stat before = Sys.fstat(dfd);
      try (Fd d = new Fd(Sys.openat(dfd, new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
        if (hideLower(d.get(), dirKey)) {
          tree.invalidate();
        }
        keepTimes(d.get(), before);
      }
    }

    /**
     * Under the directory open as {@code top} (named {@code topKey}), removes everything this layer
     * did not make, keeping the layer's entries and the directories leading to them, and cleaning
     * those too: what an opaque directory hides, whether its marker comes before or after the
     * layer's other entries. Iterative, like {@link RootedTree#removeAll}. True when it removed a
     * directory or symlink.
     */
    boolean hideLower(int top, String topKey) throws IOException {
      final class Level {
        final int fd;
        final String key;
        final Iterator<DirEntry> children;

        Level(int fd, String key) throws IOException {
          this.fd = fd;
          this.key = key;
          this.children = Sys.readDirectory(fd).iterator();
        }
      }
      Deque<Level> stack = new ArrayDeque<>();
      boolean removed = false;
      stack.push(new Level(top, topKey));
      try {
        while (!stack.isEmpty()) {
          Level l = stack.peek();
          if (!l.children.hasNext()) {
            stack.pop();
            if (l.fd != top) {
              Sys.close(l.fd);
            }
            continue;
          }
          DirEntry child = l.children.next();
          String name = new String(child.name(), StandardCharsets.ISO_8859_1);
          String key = l.key.isEmpty() ? name : l.key + "/" + name;
          if (!created.contains(key) && !ancestors.contains(key)) {
            removed |= RootedTree.removeAll(l.fd, child.name());
            continue;
          }
          Stat st = RootedTree.statOrNull(l.fd, child.name());
          if (st != null && st.isDirectory()) {
            int fd =
                Sys.openat(l.fd, child.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
            try {
              stack.push(new Level(fd, key));
            } catch (IOException ex) {
              Sys.closeQuietly(fd);
              throw ex;
            }
          }
        }
      } finally {
        while (!stack.isEmpty()) {
          Level l = stack.pop();
          if (l.fd != top) {
            Sys.closeQuietly(l.fd);
          }
        }
      }
      return removed;
    }

    /** Puts a directory's times back after a whiteout removed something from it. */
    void keepTimes(int dirFd, Stat before) throws IOException {
      Sys.utimensat(
          dirFd,
          new byte[0],
          before.atimeSec(),
          before.atimeNsec(),
          before.mtimeSec(),
          before.mtimeNsec(),
          Sys.AT_EMPTY_PATH);
    }

    // ------------------------------------------------------------------ attributes

    /** Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears capabilities). */
    void ownModeXattrs(TarEntry e, int fd) throws IOException {
      long uid = owners.uid(e.uid(), e);
      long gid = owners.gid(e.gid(), e);
      if (uid == OwnerMapper.KEEP || gid == OwnerMapper.KEEP) {
        keptOwners++;
      }
      ownModeXattrs(e, fd, uid, gid);
    }

    /** Owner (already mapped; KEEP leaves it), mode and xattrs, on a descriptor. */
    void ownModeXattrs(TarEntry e, int fd, long uid, long gid) throws IOException {
      if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
        chown(e, () -> Sys.fchownat(fd, new byte[0], uid, gid, Sys.AT_EMPTY_PATH), uid, gid);
      }
      Sys.fchmod(fd, e.permissions());
      for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
        setXattr(e, fd, null, x.getKey(), x.getValue());
      }
    }

    void chownAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
      long uid = owners.uid(e.uid(), e);
      long gid = owners.gid(e.gid(), e);
      if (uid == OwnerMapper.KEEP || gid == OwnerMapper.KEEP) {
        keptOwners++;
      }
      if (uid != OwnerMapper.KEEP || gid != OwnerMapper.KEEP) {
        chown(e, () -> Sys.fchownat(pfd, leaf, uid, gid, Sys.AT_SYMLINK_NOFOLLOW), uid, gid);
      }
    }

    void chown(TarEntry e, IoAction action, long uid, long gid) throws IOException {
      try {
        action.run();
      } catch (IOException ex) {
        IOException explained = owners.chownFailed(e, e.uid(), e.gid(), ex);
        if (explained == ex && NativeFailure.errnoOf(ex) == Errno.EINVAL) {
          throw new IOException(
              "cannot give '"
                  + e.displayName()
                  + "' the owner "
                  + uid
                  + ":"
                  + gid
                  + ": this user namespace does not map that id (chown: EINVAL). Grant more"
                  + " subordinate ids in /etc/subuid and /etc/subgid (layerctl check-ids tells how"
                  + " many), or apply with --on-unmapped-id=squash|skip",
              ex);
        }
        throw explained;
      }
    }

    /** The entry's times on a name in a directory, never following a symlink. */
    void timesAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
      Sys.utimensat(
          pfd,
          leaf,
          e.atimeSec(),
          e.atimeNsec(),
          e.mtimeSec(),
          e.mtimeNsec(),
          Sys.AT_SYMLINK_NOFOLLOW);
    }

    void xattrsAt(TarEntry e, int pfd, byte[] leaf) throws IOException {
      for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
        setXattr(e, pfd, leaf, x.getKey(), x.getValue());
      }
    }

    /**
     * Sets one xattr of the layer's content on a descriptor (leaf null) or on a name in a
     * directory, not following. In overlay mode the content's own overlay xattrs (the opaque one
     * included) are escaped, so that overlayfs shows them instead of obeying them.
     */
    void setXattr(TarEntry e, int fd, byte[] leaf, String name, byte[] value) throws IOException {
      writeXattr(
          e.displayName(),
          fd,
          leaf,
          whiteouts == WhiteoutMode.OVERLAY ? overlayXattrs.escape(name) : name,
          value);
    }

    /** Sets an xattr by exactly this name; a refusal by the target is counted and reported. */
    void writeXattr(String entry, int fd, byte[] leaf, String stored, byte[] value)
        throws IOException {
      try {
        if (leaf == null) {
          Sys.fsetxattr(fd, stored, value, 0);
        } else {
          Sys.lsetxattrAt(fd, leaf, stored, value, 0);
        }
      } catch (IOException ex) {
        Errno errno = NativeFailure.errnoOf(ex);
        if (errno == Errno.EPERM || errno == Errno.EOPNOTSUPP || errno == Errno.EACCES) {
          refusedXattrs.incrementAndGet();
          warn(
              "xattr "
                  + stored
                  + " on '"
                  + entry
                  + "' refused by the target ("
                  + errno.name()
                  + ")");
          return;
        }
        throw ex;
      }
    }

    void finishDirectoryTimes() throws IOException {
      Set<String> done = new HashSet<>();
      for (int i = dirTimes.size() - 1; i >= 0; i--) {
        DirTime t = dirTimes.get(i);
        TarEntry e = t.entry;
        if (!done.add(RootedTree.key(t.comps, t.comps.size()))) {
          continue; // a later entry for the same directory gave its times: the later wins
        }
        if (t.comps.isEmpty()) {
          Sys.futimens(rootFd, e.atimeSec(), e.atimeNsec(), e.mtimeSec(), e.mtimeNsec());
          continue;
        }
        int n = t.comps.size() - 1;
        int pfd = tree.dir(t.comps, n, false);
        if (pfd < 0) {
          continue;
        }
        byte[] leaf = t.comps.get(n);
        Stat st = RootedTree.statOrNull(pfd, leaf);
        if (st == null || !st.isDirectory()) {
          continue; // replaced or removed by a later entry
        }
        Sys.utimensat(
            pfd,
            leaf,
            e.atimeSec(),
            e.atimeNsec(),
            e.mtimeSec(),
            e.mtimeNsec(),
            Sys.AT_SYMLINK_NOFOLLOW);
      }
    }
  }

  private record DirTime(List<byte[]> comps, TarEntry entry) {}

  @FunctionalInterface
  private interface IoAction {
    void run() throws IOException;
  }

  /**
   * The components of an entry name, cleaned as if rooted at "/": empty and "." components dropped,
   * ".." removing the one before it and never climbing above the root.
   */
  static List<byte[]> clean(byte[] name) {
    List<byte[]> out = new ArrayList<>();
    for (byte[] c : Names.split(name)) {
      if (Names.isDot(c)) {
        continue;
      }
      if (Names.isDotDot(c)) {
        if (!out.isEmpty()) {
          out.remove(out.size() - 1);
        }
        continue;
      }
      out.add(c);
    }
    return out;
  }

  private static boolean startsWith(byte[] s, byte[] prefix) {
    if (s.length < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (s[i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
