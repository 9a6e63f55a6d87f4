package io.layerd.unpack;

import io.layerd.idmap.UnmappedIdException;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * When the writers may run ahead of the archive, and when the applying thread waits for them.
 *
 * <p>A regular file whose name is new in a directory this apply made (so nothing else can be there)
 * is created by a writer, not by the applying thread: the kernel's work of making an inode then
 * runs in parallel with the next entries (on ext4 it is most of the work). Names stay in archive
 * order because every other entry that could meet such a file first waits for the writers ({@link
 * #drain}): a name used before, a directory not made by this apply (or reached otherwise than by
 * its own name), whiteouts, hardlinks and devices. Names this apply makes that are not the layer's
 * entries are kept from the writers too: an overlay whiteout's device name is never created by a
 * writer, and a copy-up (a lower file's hardlink group, for a hardlink entry) leaves no directory
 * made before it fresh.
 */
final class WriterGate {
  /** Files queued for the writers at most (with their contents' chunks). */
  static final int WRITE_QUEUE = 128;

  /**
   * Open descriptors of files handed to the writers at most (files the applying thread made, in
   * directories this apply did not make): then it waits for the writers.
   */
  private static final int MAX_HELD_DESCRIPTORS = 64;

  /** Files up to this size go to the writers; larger ones stream on the applying thread. */
  private static final long POOLED_FILE = 1 << 20;

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

  private final ApplyState s;

  /** The entry being applied: its key, its directory's key, whether a writer creates it. */
  String key;

  private String parentKey;
  boolean deferCreate;

  /** Directories this apply made (mkdir), by key; valid while the tree's generation holds. */
  private final Map<String, RootedTree.DirId> freshDirs = new HashMap<>();

  /** The same, by identity: a fresh directory reached under another name shows here. */
  private final Map<RootedTree.DirId, String> freshById = new HashMap<>();

  private int freshGeneration;

  /** Files whose creation was handed to the writers since they were last drained. */
  private final Set<String> pending = new HashSet<>();

  /** The directory of the last file handed over (shared by its neighbours), and its key. */
  private DirRef dirRef;

  private String dirRefKey;
  private int dirRefGeneration;

  /** Handed-over files whose descriptor is open (made here, not by a writer) since a drain. */
  private int heldDescriptors;

  WriterGate(ApplyState state) {
    this.s = state;
  }

  /**
   * Starts an entry (its cleaned components, {@code n} of them above the leaf): decides whether a
   * writer creates it, and waits for the writers when it could meet a file they have yet to make.
   */
  void enter(TarEntry e, List<byte[]> comps, int n, boolean isWhiteout) throws IOException {
    key = RootedTree.key(comps, comps.size());
    parentKey = n == 0 ? "" : key.substring(0, key.lastIndexOf('/'));
    deferCreate = !isWhiteout && e.type() == TarEntry.Type.FILE && deferrable(e);
    if (!deferCreate && !pending.isEmpty() && mustDrain(e, isWhiteout)) {
      drain();
    }
  }

  private boolean fresh(String dirKey) {
    if (s.tree.generation() != freshGeneration) {
      forgetFresh(); // something was removed or replaced: trust no earlier mkdir
      freshGeneration = s.tree.generation();
    }
    return freshDirs.containsKey(dirKey);
  }

  /**
   * A copy-up just made names that are not this layer's entries (a lower file's hardlink group, and
   * directories on its way), possibly in fresh directories: no directory made so far counts as
   * fresh any more. (The applying thread waited for the writers before the hardlink.)
   */
  void copiedUp() {
    forgetFresh();
  }

  private void forgetFresh() {
    freshDirs.clear();
    freshById.clear();
  }

  /**
   * The entry's directory was just made (mkdir) and is open as {@code fd}: it is fresh. Returns its
   * identity, for the tree's lookup.
   */
  RootedTree.DirId madeDirectory(int fd) throws IOException {
    fresh(parentKey); // (drops stale ones first)
    Stat st = Sys.fstat(fd);
    RootedTree.DirId id = new RootedTree.DirId(st.dev(), st.ino());
    freshDirs.put(key, id);
    freshById.put(id, key);
    return id;
  }

  /**
   * The directory of the entry being applied (made as needed), {@code tree.dir(comps, n, true)}
   * with the writers' bookkeeping kept sound. That bookkeeping knows names by the archive's
   * spelling, so it holds only while every name in a fresh directory was made under that
   * directory's own name. When the lookup reached a fresh directory under another name (through a
   * symlink), or made directories through a symlink, names may now stand where the spelling says
   * nothing is: the writers are waited for and no directory counts as fresh any more. (Directories
   * are made only after {@link #beforeCreating} waited for the writers.)
   */
  int parent(List<byte[]> comps, int n) throws IOException {
    int pfd = s.tree.dir(comps, n, true);
    boolean elsewhere = s.tree.takeWalkedSymlink();
    if (!elsewhere && !freshById.isEmpty()) {
      String k = freshById.get(s.tree.identity(pfd));
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
  private void drainPending() throws IOException {
    if (!pending.isEmpty()) {
      drain();
    }
  }

  private boolean deferrable(TarEntry e) {
    return s.writers != null
        && e.sparse() == null
        && e.size() <= POOLED_FILE
        && fresh(parentKey)
        && !s.ours(key)
        && !s.whiteoutDevices.contains(key)
        && !pending.contains(key);
  }

  /** Whether this entry could meet a file a writer has yet to create. */
  private boolean mustDrain(TarEntry e, boolean isWhiteout) {
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
    return !fresh(parentKey) || s.ours(key) || pending.contains(key);
  }

  /** Whether a regular file's contents and attributes go to the writers. */
  boolean pooled(TarEntry e) {
    return s.writers != null && e.sparse() == null && e.size() <= POOLED_FILE;
  }

  /** The entry's file is made by a writer, in {@code pfd}: its directory, retained for the job. */
  DirRef handOver(int pfd) throws IOException {
    DirRef d = dirRef(pfd);
    d.retain();
    pending.add(key);
    return d;
  }

  /** Queues a pooled file's job; {@code holds} when it holds a descriptor the writer closes. */
  void submit(FileJob job, long bytes, boolean holds) throws IOException {
    s.writers.submit(job, bytes);
    if (holds && ++heldDescriptors >= MAX_HELD_DESCRIPTORS) {
      drain(); // a few layers applied at once must not run a daemon out of descriptors
    }
  }

  /** Waits for the writers: every file handed over exists (or the apply fails here). */
  void drain() throws IOException {
    s.writers.awaitIdle();
    rethrow(s.writers.failure());
    pending.clear();
    heldDescriptors = 0;
  }

  /** The directory a handed-over file is made in, open for the writers (O_PATH). */
  private DirRef dirRef(int pfd) throws IOException {
    if (dirRef != null && dirRefKey.equals(parentKey) && dirRefGeneration == s.tree.generation()) {
      return dirRef;
    }
    releaseDirRef();
    dirRef = new DirRef(Sys.openat(pfd, new byte[] {'.'}, Sys.O_PATH | Sys.O_DIRECTORY, 0));
    dirRefKey = parentKey;
    dirRefGeneration = s.tree.generation();
    return dirRef;
  }

  /** Lets go of the shared directory (the writers' jobs hold their own references). */
  void releaseDirRef() {
    if (dirRef != null) {
      dirRef.release();
      dirRef = null;
    }
  }

  /** Throws a writer's failure as the applier would have thrown it for that entry. */
  private void rethrow(Writers.Failure f) throws IOException {
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
    throw new LayerApplyException(s.layer, e.displayName(), e.offset(), cause);
  }

  /**
   * When the applying thread failed after a writer did (e.g. a queue given up), the writer's
   * failure is the one to report.
   */
  void rethrowWriterFailure() throws IOException {
    if (s.writers != null) {
      rethrow(s.writers.failure());
    }
  }
}
