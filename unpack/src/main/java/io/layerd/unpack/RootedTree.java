package io.layerd.unpack;

import io.layerd.sys.DirWalk;
import io.layerd.sys.Errno;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Directories inside a root, found without ever leaving it. Every lookup resolves symlinks as if
 * the root were "/" (openat2 RESOLVE_IN_ROOT, or the same rules walked by hand when parents must be
 * made), and hands out descriptors of directories, never paths. Descriptors are cached; a
 * descriptor returned by {@link #dir} stays valid until the next call of {@link #dir}.
 */
final class RootedTree implements Closeable {
  /** Called for each directory this tree makes because an entry's parent was missing. */
  interface ImpliedDir {
    /** A directory was made; {@code overWhiteout} when it took the place of a whiteout (0/0). */
    void made(int parentFd, byte[] name, boolean overWhiteout) throws IOException;
  }

  /** Runs before the tree makes missing directories (LayerApplier waits for its writers). */
  @FunctionalInterface
  interface BeforeCreating {
    void run() throws IOException;
  }

  /** A directory's identity: device and inode. */
  record DirId(long dev, long ino) {}

  private static final int MAX_SYMLINKS = 40;

  /**
   * The cached lookups (descriptors) at most: an LRU, so that a layer of 200,000 directories keeps
   * 128 open, well under the 1,024 descriptors a process has by default, with room for a daemon's
   * other work and a few applies at once.
   */
  private static final int CACHE = 128;

  private final int rootFd;
  private final ImpliedDir implied;
  private final BeforeCreating beforeCreating;
  private final List<Integer> toClose = new ArrayList<>();
  private final Map<Integer, DirId> ids = new java.util.HashMap<>(); // of the cached descriptors
  private DirId rootId;
  private boolean walkedSymlink;
  private boolean stale;
  private int generation;

  private final LinkedHashMap<String, Integer> cache =
      new LinkedHashMap<>(CACHE * 2, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
          if (size() > CACHE) {
            toClose.add(eldest.getValue());
            return true;
          }
          return false;
        }
      };

  RootedTree(int rootFd, ImpliedDir implied) {
    this(rootFd, implied, () -> {});
  }

  RootedTree(int rootFd, ImpliedDir implied, BeforeCreating beforeCreating) {
    this.rootFd = rootFd;
    this.implied = implied;
    this.beforeCreating = beforeCreating;
  }

  /**
   * The identity of a directory descriptor returned by {@link #dir} (or of the root), read once per
   * cached lookup.
   */
  DirId identity(int fd) throws IOException {
    if (fd == rootFd) {
      if (rootId == null) {
        rootId = identityOf(fd);
      }
      return rootId;
    }
    DirId id = ids.get(fd);
    if (id == null) {
      id = identityOf(fd); // read at the first question only (most lookups are never asked)
      if (cache.containsValue(fd)) {
        ids.put(fd, id);
      }
    }
    return id;
  }

  private static DirId identityOf(int fd) throws IOException {
    Stat st = Sys.fstat(fd);
    return new DirId(st.dev(), st.ino());
  }

  /**
   * Whether a lookup made directories through a symbolic link since the last call (they then stand
   * under names other than the entries spelled), and forgets it.
   */
  boolean takeWalkedSymlink() {
    boolean w = walkedSymlink;
    walkedSymlink = false;
    return w;
  }

  int rootFd() {
    return rootFd;
  }

  /** Forget every cached directory (after a directory or symlink was removed or replaced). */
  void invalidate() {
    stale = true;
    generation++;
  }

  /** Changes whenever {@link #invalidate} was called: a lookup made before may now differ. */
  int generation() {
    return generation;
  }

  static String key(List<byte[]> comps, int n) {
    // The components joined by '/', one byte per char (ISO-8859-1): built once, as one string.
    int length = Math.max(0, n - 1);
    for (int i = 0; i < n; i++) {
      length += comps.get(i).length;
    }
    byte[] joined = new byte[length];
    int at = 0;
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        joined[at++] = '/';
      }
      byte[] c = comps.get(i);
      System.arraycopy(c, 0, joined, at, c.length);
      at += c.length;
    }
    return new String(joined, StandardCharsets.ISO_8859_1);
  }

  /**
   * The directory named by the first {@code n} components, resolved in the root. With {@code
   * create}, missing directories are made (and a non-directory in the way is replaced by one);
   * without, returns -1 when the path does not lead to a directory.
   */
  int dir(List<byte[]> comps, int n, boolean create) throws IOException {
    flush();
    if (n == 0) {
      return rootFd;
    }
    String key = key(comps, n);
    Integer hit = cache.get(key);
    if (hit != null) {
      return hit;
    }
    int fd;
    byte[] path = Names.join(comps.subList(0, n));
    try {
      fd = Sys.openInRoot(rootFd, path, Sys.O_PATH | Sys.O_DIRECTORY, 0);
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (!create && (errno == Errno.ENOENT || errno == Errno.ENOTDIR || errno == Errno.ELOOP)) {
        return -1;
      }
      if (errno != Errno.ENOENT && errno != Errno.ENOTDIR) {
        throw e;
      }
      beforeCreating.run();
      fd = walkCreating(comps.subList(0, n));
    }
    cache.put(key, fd);
    flush();
    return fd;
  }

  /**
   * Takes {@code fd} as the lookup of the directory {@code key} (the components joined as by {@link
   * #key}): a directory just made by its name in a descriptor {@link #dir} returned, and opened
   * there with O_NOFOLLOW | O_DIRECTORY, which is what resolving {@code key} in the root would
   * give. The next {@link #dir} of that path then costs no call (a layer's entries follow their
   * directory). {@code id}, when known, is its {@link #identity}. Returns false, keeping nothing,
   * when the path is already known; true when the tree owns {@code fd} from now on (and closes it).
   */
  boolean adopt(String key, int fd, DirId id) {
    flush();
    if (cache.containsKey(key)) {
      return false;
    }
    cache.put(key, fd);
    if (id != null) {
      ids.put(fd, id);
    }
    return true;
  }

  private void flush() {
    if (stale) {
      for (int fd : cache.values()) {
        ids.remove(fd);
        Sys.closeQuietly(fd);
      }
      cache.clear();
      stale = false;
    }
    for (int fd : toClose) {
      ids.remove(fd);
      Sys.closeQuietly(fd);
    }
    toClose.clear();
  }

  /**
   * The RESOLVE_IN_ROOT walk, making what is missing. Returns a new O_PATH descriptor. One
   * descriptor is held whatever the depth ({@link DirWalk}).
   */
  private int walkCreating(List<byte[]> comps) throws IOException {
    Deque<byte[]> rest = new ArrayDeque<>(comps);
    int links = 0;
    try (DirWalk walk = new DirWalk(rootFd)) {
      while (!rest.isEmpty()) {
        int cur = walk.current();
        byte[] c = rest.poll();
        if (Names.isDot(c)) {
          continue;
        }
        if (Names.isDotDot(c)) {
          walk.up();
          continue;
        }
        Stat st = statOrNull(cur, c);
        if (st != null && st.isSymlink()) {
          if (++links > MAX_SYMLINKS) {
            throw io.layerd.sys.SysException.of(
                "resolve", Errno.ELOOP.number(), Sys.where(cur, c), null);
          }
          walkedSymlink = true;
          byte[] target = Sys.readlinkat(cur, c);
          List<byte[]> parts = Names.split(target);
          for (int i = parts.size() - 1; i >= 0; i--) {
            rest.push(parts.get(i));
          }
          if (target.length > 0 && target[0] == '/') {
            walk.toRoot();
          }
          continue;
        }
        boolean overWhiteout = false;
        if (st != null && !st.isDirectory()) {
          // A file, device or fifo stands where a directory must be: it becomes one.
          overWhiteout = st.isWhiteoutDevice();
          Sys.unlinkat(cur, c, 0);
          st = null;
        }
        if (st == null) {
          Sys.mkdirat(cur, c, 0755);
          implied.made(cur, c, overWhiteout);
        }
        walk.enter(c);
      }
      return walk.take();
    }
  }

  /** lstat of a name in a directory, or null when there is none. */
  static Stat statOrNull(int dirFd, byte[] name) throws IOException {
    return Trees.lstatOrNull(dirFd, name);
  }

  /** {@link Trees#removeAll(int, byte[])}: true when a directory or a symlink went. */
  static boolean removeAll(int dirFd, byte[] name) throws IOException {
    return Trees.removeAll(dirFd, name);
  }

  @Override
  public void close() {
    stale = true;
    flush();
  }
}
