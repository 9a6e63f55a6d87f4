package io.layerd.driver.overlay2;

import io.layerd.engine.spi.Change;
import io.layerd.sys.DirEntry;
import io.layerd.sys.DirStack;
import io.layerd.sys.Fd;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The native diff: a layer's changes read from its upper directory (its diff/) instead of by
 * comparing two whole trees. Only the upper directory is walked; each name found there is looked up
 * in the parent's view, which is the parents' diff directories merged top-down the way overlay
 * merges them (a whiteout or a non-directory hides everything below it; an opaque directory hides
 * the same directory in the layers below).
 *
 * <p>What each entry of the upper directory means, and what is reported:
 *
 * <ul>
 *   <li>a character device 0/0 (overlay's whiteout): DELETED, when the name exists in the parent's
 *       view (a whiteout over nothing changes nothing);
 *   <li>a directory with the opaque marker ({@code <prefix>opaque = "y"}): its lower contents are
 *       gone: each name of the parent's view of that directory that the upper directory does not
 *       hold is DELETED, and the directory itself is MODIFIED — the form of the engine's tree
 *       comparison, so that Changes agree between drivers and the engine's Diff writes a {@code
 *       .wh.NAME} for each (a tar that any applier reads the same);
 *   <li>a directory that exists in the parent's view: MODIFIED when its mode, owner or xattrs
 *       differ (overlay's own {@code <prefix>*} xattrs left out) or when anything inside it
 *       changed; else nothing (overlay copies directories up merely to hold a changed child);
 *   <li>anything else: ADDED when the parent's view has no such name, else MODIFIED (a file is in
 *       the upper directory only when it was written, replaced, or had its metadata changed); a new
 *       directory's whole contents are ADDED.
 * </ul>
 *
 * <p>The result, sorted by path, is what the engine's tree comparison ({@code TreeChanges}) gives
 * for the same layer, with one documented difference: a file copied up without any change of size,
 * mtime, mode, owner or xattrs (opened for writing and closed) is MODIFIED here, as in moby's
 * overlay2. That the upper directory is a complete record needs redirect_dir and metacopy to be
 * off; where they are not, the driver does not use this class (see {@link OverlayCheck}).
 */
final class UpperChanges {
  private UpperChanges() {}

  /**
   * The changes of the layer whose upper directory is {@code upper} against the view of {@code
   * lowers} (the parents' diff directories, nearest first; empty for a base layer).
   */
  static List<Change> read(Path upper, List<Path> lowers, String xattrPrefix) throws IOException {
    List<Change> out = new ArrayList<>();
    int[] roots = new int[1 + lowers.size()];
    Arrays.fill(roots, -1);
    try (Fd root = Sys.openDirectory(upper.toString())) {
      roots[0] = root.get();
      try {
        for (int i = 0; i < lowers.size(); i++) {
          roots[1 + i] =
              Sys.openat(
                  Sys.AT_FDCWD,
                  lowers.get(i).toString().getBytes(StandardCharsets.UTF_8),
                  Sys.O_PATH | Sys.O_DIRECTORY,
                  0);
        }
        int[] flags = new int[roots.length];
        Arrays.fill(flags, Sys.O_PATH);
        flags[0] = Sys.O_RDONLY;
        int[] view = new int[lowers.size()];
        for (int i = 0; i < view.length; i++) {
          view[i] = i;
        }
        try (DirStack dirs = new DirStack(roots, flags, DirStack.MAX_HELD)) {
          new Walk(xattrPrefix, out, dirs, roots.length)
              .run(new Frame(dirs, new byte[0], view, !lowers.isEmpty(), null));
        }
      } finally {
        for (int i = 1; i < roots.length; i++) {
          Sys.closeQuietly(roots[i]);
        }
      }
    }
    out.sort((a, b) -> Arrays.compareUnsigned(a.path(), b.path()));
    return out;
  }

  /**
   * One directory of the upper tree being read. Its descriptors are the deepest level of the walk's
   * {@link DirStack}: slot 0 the upper directory, slot 1 + i lower layer i (where it is in view).
   */
  private static final class Frame {
    final byte[] path;
    final List<DirEntry> entries;

    /** The parent's view of this directory: the lower layers that make it, top first. */
    final int[] view;

    /** The parent's view has this directory (as a directory). */
    final boolean inLower;

    final Frame parent;
    int next;
    boolean opaque;
    boolean selfChanged;
    boolean changedInside;

    Frame(DirStack dirs, byte[] path, int[] view, boolean inLower, Frame parent)
        throws IOException {
      this.path = path;
      this.view = view;
      this.inLower = inLower;
      this.parent = parent;
      this.entries = Sys.readDirectory(dirs.fd(0));
    }
  }

  /** The name found in the parent's view: its stat, and in which lower layer. */
  private record Found(Stat stat, int layer) {}

  private static final class Walk {
    private final String prefix;
    private final List<Change> out;
    private final DirStack dirs;
    private final int width;

    Walk(String prefix, List<Change> out, DirStack dirs, int width) {
      this.prefix = prefix;
      this.out = out;
      this.dirs = dirs;
      this.width = width;
    }

    void run(Frame top) throws IOException {
      Deque<Frame> stack = new ArrayDeque<>();
      stack.push(top);
      while (!stack.isEmpty()) {
        Frame f = stack.peek();
        if (f.next < f.entries.size()) {
          DirEntry e = f.entries.get(f.next++);
          Frame child = entry(f, e.name());
          if (child != null) {
            stack.push(child);
          }
          continue;
        }
        stack.pop();
        finish(f);
        if (f.parent != null) {
          dirs.pop();
        }
      }
    }

    private int lowerFd(int layer) {
      return dirs.fd(1 + layer);
    }

    /** Reports one entry of an upper directory; returns the frame to descend into, if any. */
    private Frame entry(Frame f, byte[] name) throws IOException {
      byte[] p = child(f.path, name);
      int upperFd = dirs.fd(0);
      Stat st = Sys.fstatat(upperFd, name, Sys.AT_SYMLINK_NOFOLLOW);
      Found lower = lookup(f, name);
      if (st.isWhiteoutDevice()) {
        if (lower != null) {
          out.add(new Change(p, Change.Kind.DELETED));
          f.changedInside = true;
        }
        return null;
      }
      if (!st.isDirectory()) {
        out.add(new Change(p, lower == null ? Change.Kind.ADDED : Change.Kind.MODIFIED));
        f.changedInside = true;
        return null;
      }
      if (lower == null || !lower.stat().isDirectory()) {
        // A new directory (or one where the parent had a non-directory): all of it is new.
        out.add(new Change(p, lower == null ? Change.Kind.ADDED : Change.Kind.MODIFIED));
        f.changedInside = true;
        return open(f, name, p, new int[0], false);
      }
      int top = lowerFd(lower.layer());
      boolean selfChanged = differs(upperFd, name, st, top, name, lower.stat());
      boolean opaque = isOpaque(upperFd, name);
      Frame c = open(f, name, p, view(f, name, lower.layer()), true);
      c.selfChanged = selfChanged;
      c.opaque = opaque;
      return c;
    }

    /**
     * Goes down into {@code name}: the upper directory's, and the lower layers' of {@code view}.
     */
    private Frame open(Frame f, byte[] name, byte[] p, int[] view, boolean inLower)
        throws IOException {
      int[] fds = new int[width];
      Arrays.fill(fds, -1);
      try {
        for (int layer : view) {
          fds[1 + layer] =
              Sys.openat(lowerFd(layer), name, Sys.O_PATH | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        }
        fds[0] = Sys.openat(dirs.fd(0), name, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
      } catch (IOException | RuntimeException e) {
        for (int fd : fds) {
          Sys.closeQuietly(fd);
        }
        throw e;
      }
      dirs.push(name, fds);
      return new Frame(dirs, p, view, inLower, f);
    }

    /** After a directory's entries: its opaque deletions, and whether it is MODIFIED. */
    private void finish(Frame f) throws IOException {
      if (f.parent == null) {
        return; // the root is never reported (nor is its opaque marker obeyed by overlay)
      }
      if (f.inLower && f.opaque) {
        Set<String> inUpper = new HashSet<>();
        for (DirEntry e : f.entries) {
          inUpper.add(key(e.name()));
        }
        for (byte[] gone : visibleNames(f.view)) {
          if (!inUpper.contains(key(gone))) {
            out.add(new Change(child(f.path, gone), Change.Kind.DELETED));
            f.changedInside = true;
          }
        }
      }
      if (f.inLower && (f.selfChanged || f.changedInside)) {
        out.add(new Change(f.path, Change.Kind.MODIFIED));
      }
      if (!f.inLower || f.selfChanged || f.changedInside) {
        f.parent.changedInside = true;
      }
    }

    /** The topmost entry {@code name} in the frame's view, or null (absent or whited out). */
    private Found lookup(Frame f, byte[] name) throws IOException {
      for (int layer : f.view) {
        Stat s = statOrNull(lowerFd(layer), name);
        if (s == null) {
          continue;
        }
        return s.isWhiteoutDevice() ? null : new Found(s, layer);
      }
      return null;
    }

    /**
     * The layers that make up the parent's view of directory {@code name}: from the topmost one
     * that has it, down through those that have it as a directory too, stopping after an opaque one
     * and before one that hides it (a whiteout or a non-directory).
     */
    private int[] view(Frame f, byte[] name, int from) throws IOException {
      int[] layers = new int[f.view.length];
      int n = 0;
      for (int layer : f.view) {
        if (layer < from) {
          continue;
        }
        int dir = lowerFd(layer);
        Stat s = statOrNull(dir, name);
        if (s == null) {
          continue;
        }
        if (!s.isDirectory()) {
          break;
        }
        layers[n++] = layer;
        if (isOpaque(dir, name)) {
          break;
        }
      }
      return Arrays.copyOf(layers, n);
    }

    /** The names the parent's view shows in a directory made of these layers (top first). */
    private List<byte[]> visibleNames(int[] layers) throws IOException {
      Set<String> seen = new HashSet<>();
      List<byte[]> out = new ArrayList<>();
      for (int layer : layers) {
        try (Fd d =
            new Fd(
                Sys.openat(lowerFd(layer), new byte[] {'.'}, Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
          for (DirEntry e : Sys.readDirectory(d.get())) {
            if (!seen.add(key(e.name()))) {
              continue; // a layer above decided
            }
            boolean maybeWhiteout = e.type() == Sys.DT_CHR || e.type() == Sys.DT_UNKNOWN;
            if (maybeWhiteout
                && Sys.fstatat(d.get(), e.name(), Sys.AT_SYMLINK_NOFOLLOW).isWhiteoutDevice()) {
              continue;
            }
            out.add(e.name());
          }
        }
      }
      return out;
    }

    private boolean isOpaque(int dir, byte[] name) throws IOException {
      byte[] v = Sys.lgetxattrAt(dir, name, prefix + "opaque");
      return v != null && v.length == 1 && v[0] == 'y';
    }

    /**
     * Whether a directory's own attributes differ from the parent's: mode (with the set-id and
     * sticky bits), owner, and xattrs other than overlay's own (an escaped {@code
     * <prefix>overlay.X}, content stored by the applier, counts as {@code <prefix>X}).
     */
    private boolean differs(int newDir, byte[] newName, Stat n, int oldDir, byte[] oldName, Stat o)
        throws IOException {
      if (n.permissions() != o.permissions() || n.uid() != o.uid() || n.gid() != o.gid()) {
        return true;
      }
      return !xattrs(newDir, newName).equals(xattrs(oldDir, oldName));
    }

    private Map<String, String> xattrs(int dir, byte[] name) throws IOException {
      Map<String, String> m = new HashMap<>();
      for (String x : Sys.llistxattrAt(dir, name)) {
        String key = x;
        if (x.startsWith(prefix)) {
          String escaped = prefix + "overlay.";
          if (!x.startsWith(escaped)) {
            continue; // overlay's own marker (opaque, origin, impure, ...)
          }
          key = prefix + x.substring(escaped.length());
        }
        byte[] v = Sys.lgetxattrAt(dir, name, x);
        m.put(key, v == null ? "" : java.util.HexFormat.of().formatHex(v));
      }
      return m;
    }
  }

  private static Stat statOrNull(int dirFd, byte[] name) throws IOException {
    try {
      return Sys.fstatat(dirFd, name, Sys.AT_SYMLINK_NOFOLLOW);
    } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
      return null;
    }
  }

  private static String key(byte[] name) {
    return new String(name, StandardCharsets.ISO_8859_1);
  }

  private static byte[] child(byte[] dir, byte[] name) {
    byte[] out = Arrays.copyOf(dir, dir.length + 1 + name.length);
    out[dir.length] = '/';
    System.arraycopy(name, 0, out, dir.length + 1, name.length);
    return out;
  }
}
