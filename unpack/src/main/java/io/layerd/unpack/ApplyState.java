package io.layerd.unpack;

import io.layerd.sys.Stat;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The mutable state of applying one layer, shared by the parts of {@link EntryDispatcher}: the
 * options the apply runs with, what this layer made so far, the directories whose times are set
 * last, the counts and the warnings. One applying thread uses it; the writers only count refused
 * xattrs and add warnings.
 */
final class ApplyState {
  private static final int MAX_WARNINGS = 200;

  final String layer;
  final int rootFd;
  final WhiteoutMode whiteouts;
  final OverlayXattrs overlayXattrs;
  final boolean strictDevices;

  /** This layer's owner mapping (it names the layer in its errors). */
  final OwnerMapper owners;

  RootedTree tree;

  /** The uncompressed tar the entries are read from (their file contents are sliced from it). */
  LayerPipeline.ChunkStream tar;

  /** The threads finishing regular files, or null to finish them here. */
  Writers writers;

  /** Copy-up from the lower layers (OVERLAY mode with lowers given), else null. */
  CopyUp copyUp;

  /** What this layer made, by key ({@link RootedTree#key}). */
  final Set<String> created = new HashSet<>();

  /** The directories leading to what this layer made (implied ones too), by the same keys. */
  final Set<String> ancestors = new HashSet<>();

  /**
   * The overlay whiteout devices this layer made (OVERLAY mode), by key: names that are there
   * without being this layer's content, so that no writer may create a file by that name.
   */
  final Set<String> whiteoutDevices = new HashSet<>();

  /** The directories this layer gave times to, in archive order: set last, deepest first. */
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

  ApplyState(
      String layer,
      int rootFd,
      WhiteoutMode whiteouts,
      OverlayXattrs overlayXattrs,
      boolean strictDevices,
      OwnerMapper owners) {
    this.layer = layer;
    this.rootFd = rootFd;
    this.whiteouts = whiteouts;
    this.overlayXattrs = overlayXattrs;
    this.strictDevices = strictDevices;
    this.owners = owners.forLayer(layer);
  }

  /**
   * A directory entry whose times are set at the end: its path as a key ({@link RootedTree#key}; ""
   * for the root) and its times, not its components or its entry (a hostile layer thousands of
   * directories deep would otherwise hold its depth squared in memory until the end).
   */
  record DirTime(String key, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) {
    static DirTime of(String key, TarEntry e) {
      return new DirTime(key, e.atimeSec(), e.atimeNsec(), e.mtimeSec(), e.mtimeNsec());
    }
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

  /** Whether this layer made the entry {@code key} or something below it. */
  boolean ours(String key) {
    return created.contains(key) || ancestors.contains(key);
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

  /** What the apply made and counted, for {@link ApplyResult}. */
  ApplyResult result(ApplyResult.Digests digests) {
    return new ApplyResult(
        layer,
        digests,
        new ApplyResult.Counts(entries, files, fileBytes, dirs, symlinks, hardlinks, whiteoutCount),
        new ApplyResult.Skipped(skippedDevices, refusedXattrs.get(), keptOwners),
        warnings());
  }
}
