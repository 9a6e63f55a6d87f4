package io.layerd.testkit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.sys.DirStack;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A canonical listing of a directory tree: what an unpacked layer looks like, comparable between
 * layerd, GNU tar and umoci, and printable.
 *
 * <pre>{@code
 * TreeManifest expected = TreeManifest.of(unpackedByGnuTar);
 * TreeManifest actual = TreeManifest.of(unpackedByLayerd);
 * TreeManifest.assertSame(expected, actual);
 * System.out.println(actual.toText());
 * }</pre>
 *
 * <p>The walk goes through {@link Sys} only: getdents64 for names (as bytes, so non-UTF-8 names
 * survive; shown with {@link Names#display}), statx without following symlinks (a symlink is never
 * followed, anywhere), l*xattr for extended attributes of every namespace this process may read.
 * Each {@link Entry} holds the path relative to the root ({@code /}-separated; the root is {@code
 * .}), the type, the permission bits (with setuid, setgid, sticky), owner, size and SHA-256 of
 * regular files, the target of symlinks, major/minor of devices, extended attributes, the mtime
 * (seconds and nanoseconds; directories too) and, for inodes with more than one name inside the
 * tree, the hardlink group: the first of its paths in sorted order. Entries are sorted component by
 * component, so a directory comes right before its contents.
 *
 * <p>{@link Options} leave out what a comparison should not see (mtimes, the root's own attributes,
 * xattrs by prefix, excluded paths) and translate owners seen from outside a user namespace into
 * the ids inside it. {@link #diff} compares every field, a recorded one against an unrecorded
 * (null) one too: apply the same options to both sides ({@link #normalize}).
 *
 * <p>Immutable and thread-safe.
 */
public final class TreeManifest {
  /** The type of an entry, with its short label. */
  public enum Type {
    DIR,
    FILE,
    SYMLINK,
    CHAR,
    BLOCK,
    FIFO,
    SOCKET;

    /** The label used in text and JSON: "dir", "file", "symlink", "char", "block", ... */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The type with this label. */
    public static Type ofLabel(String label) {
      return valueOf(label.toUpperCase(Locale.ROOT));
    }

    static Type of(Stat st) {
      switch (st.type()) {
        case Sys.S_IFDIR:
          return DIR;
        case Sys.S_IFREG:
          return FILE;
        case Sys.S_IFLNK:
          return SYMLINK;
        case Sys.S_IFCHR:
          return CHAR;
        case Sys.S_IFBLK:
          return BLOCK;
        case Sys.S_IFIFO:
          return FIFO;
        case Sys.S_IFSOCK:
          return SOCKET;
        default:
          throw new IllegalArgumentException(String.format("unknown file type 0%o", st.type()));
      }
    }
  }

  /** The uid or gid recorded for an id that the {@link Options} id map does not cover. */
  public static final long UNMAPPED = -1;

  /**
   * One entry of a manifest. Fields that were not recorded (not applicable to the type, or left out
   * by the options) are null; {@code xattrs} is empty when there are none and null when not
   * recorded.
   *
   * @param path relative, {@code /}-separated, in {@link Names#display} form; the root is {@code .}
   * @param type the file type
   * @param mode permission bits with setuid/setgid/sticky ({@code mode & 07777})
   * @param uid owner, or {@link #UNMAPPED}
   * @param gid group, or {@link #UNMAPPED}
   * @param size size in bytes (regular files)
   * @param sha256 SHA-256 of the content, lower-case hex (regular files)
   * @param target link target in display form (symlinks)
   * @param rdevMajor device major (char and block devices)
   * @param rdevMinor device minor (char and block devices)
   * @param hardlink the first path of this inode's hardlink group (inodes with several names)
   * @param mtimeSec modification time, seconds
   * @param mtimeNanos modification time, nanoseconds
   * @param xattrs extended attributes, sorted by name: name to value ({@code "text"} or {@code
   *     0x<hex>})
   */
  public record Entry(
      String path,
      Type type,
      Integer mode,
      Long uid,
      Long gid,
      Long size,
      String sha256,
      String target,
      Long rdevMajor,
      Long rdevMinor,
      String hardlink,
      Long mtimeSec,
      Integer mtimeNanos,
      Map<String, String> xattrs) {

    /** Validates and copies. */
    public Entry {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(type, "type");
      if (path.isEmpty() || path.startsWith("/") || path.endsWith("/")) {
        throw new IllegalArgumentException("not a relative manifest path: '" + path + "'");
      }
      xattrs = xattrs == null ? null : Collections.unmodifiableSortedMap(new TreeMap<>(xattrs));
    }

    /** A directory without xattrs, mtime unrecorded. */
    public static Entry dir(String path, int mode, long uid, long gid) {
      return new Entry(
          path, Type.DIR, mode, uid, gid, null, null, null, null, null, null, null, null, Map.of());
    }

    /** A regular file with this content, without xattrs or other names, mtime unrecorded. */
    public static Entry file(String path, byte[] content, int mode, long uid, long gid) {
      return new Entry(
          path,
          Type.FILE,
          mode,
          uid,
          gid,
          (long) content.length,
          TreeManifest.sha256(content),
          null,
          null,
          null,
          null,
          null,
          null,
          Map.of());
    }

    /** A symlink (mode 0777) without xattrs, mtime unrecorded. */
    public static Entry symlink(String path, String target, long uid, long gid) {
      return new Entry(
          path,
          Type.SYMLINK,
          0777,
          uid,
          gid,
          null,
          null,
          target,
          null,
          null,
          null,
          null,
          null,
          Map.of());
    }

    /** A device (CHAR, BLOCK) or FIFO/SOCKET without xattrs, mtime unrecorded. */
    public static Entry special(
        String path, Type type, int mode, long uid, long gid, long major, long minor) {
      boolean dev = type == Type.CHAR || type == Type.BLOCK;
      if (!dev && type != Type.FIFO && type != Type.SOCKET) {
        throw new IllegalArgumentException("not a special file type: " + type);
      }
      return new Entry(
          path,
          type,
          mode,
          uid,
          gid,
          null,
          null,
          null,
          dev ? major : null,
          dev ? minor : null,
          null,
          null,
          null,
          Map.of());
    }

    /** This entry with another mtime. */
    public Entry withMtime(Long seconds, Integer nanos) {
      return new Entry(
          path, type, mode, uid, gid, size, sha256, target, rdevMajor, rdevMinor, hardlink, seconds,
          nanos, xattrs);
    }

    /** This entry with other extended attributes (null: not recorded). */
    public Entry withXattrs(Map<String, String> attrs) {
      return new Entry(
          path,
          type,
          mode,
          uid,
          gid,
          size,
          sha256,
          target,
          rdevMajor,
          rdevMinor,
          hardlink,
          mtimeSec,
          mtimeNanos,
          attrs == null ? null : new TreeMap<>(attrs));
    }

    /** This entry in another hardlink group (null: none). */
    public Entry withHardlink(String group) {
      return new Entry(
          path,
          type,
          mode,
          uid,
          gid,
          size,
          sha256,
          target,
          rdevMajor,
          rdevMinor,
          group,
          mtimeSec,
          mtimeNanos,
          xattrs);
    }

    /** This entry with another mode. */
    public Entry withMode(Integer newMode) {
      return new Entry(
          path,
          type,
          newMode,
          uid,
          gid,
          size,
          sha256,
          target,
          rdevMajor,
          rdevMinor,
          hardlink,
          mtimeSec,
          mtimeNanos,
          xattrs);
    }

    /** This entry with another owner. */
    public Entry withOwner(Long newUid, Long newGid) {
      return new Entry(
          path,
          type,
          mode,
          newUid,
          newGid,
          size,
          sha256,
          target,
          rdevMajor,
          rdevMinor,
          hardlink,
          mtimeSec,
          mtimeNanos,
          xattrs);
    }

    /** The fields that {@link #diff} compares besides xattrs, in display form (null: none). */
    Map<String, String> fields() {
      Map<String, String> f = new LinkedHashMap<>();
      f.put("mode", mode == null ? null : String.format("%04o", mode));
      f.put("uid", id(uid));
      f.put("gid", id(gid));
      f.put("size", size == null ? null : size.toString());
      f.put("sha256", sha256);
      f.put("target", target);
      f.put("rdev", rdevMajor == null ? null : rdevMajor + "," + rdevMinor);
      f.put("hardlink", hardlink);
      f.put("mtime", mtimeSec == null ? null : time(mtimeSec, mtimeNanos));
      return f;
    }

    /** One line: path, type, then the recorded fields as {@code key=value}. */
    public String toText() {
      StringBuilder sb = new StringBuilder(quote(path)).append(' ').append(type.label());
      if (mode != null) {
        sb.append(String.format(" mode=%04o", mode));
      }
      if (uid != null || gid != null) {
        sb.append(" owner=").append(id(uid)).append(':').append(id(gid));
      }
      if (size != null) {
        sb.append(" size=").append(size);
      }
      if (sha256 != null) {
        sb.append(" sha256=").append(sha256);
      }
      if (target != null) {
        sb.append(" target=").append(quote(target));
      }
      if (rdevMajor != null) {
        sb.append(" rdev=").append(rdevMajor).append(',').append(rdevMinor);
      }
      if (hardlink != null) {
        sb.append(" hardlink=").append(quote(hardlink));
      }
      if (mtimeSec != null) {
        sb.append(" mtime=").append(time(mtimeSec, mtimeNanos));
      }
      if (xattrs != null) {
        xattrs.forEach((k, v) -> sb.append(" xattr.").append(k).append('=').append(v));
      }
      return sb.toString();
    }
  }

  /**
   * One range of an id map, as in /proc/PID/uid_map: ids {@code inside .. inside+count-1} of the
   * namespace are {@code outside .. outside+count-1} on the host.
   */
  public record IdMapping(long inside, long outside, long count) {
    /** Validates. */
    public IdMapping {
      if (inside < 0 || outside < 0 || count < 1) {
        throw new IllegalArgumentException(
            "not an id mapping: " + inside + " " + outside + " " + count);
      }
    }

    /**
     * The map that {@code unshare --user --map-root-user --map-auto} gives a user: 0 is the user's
     * own id, 1.. its subordinate range.
     */
    public static List<IdMapping> userNamespace(long ownId, long subStart, long subCount) {
      return List.of(new IdMapping(0, ownId, 1), new IdMapping(1, subStart, subCount - 1));
    }
  }

  /** What a manifest records; immutable, built with {@link #builder()}. */
  public static final class Options {
    /** Everything recorded, ids as they are. */
    public static final Options DEFAULT = builder().build();

    private final Set<Type> ignoreMtimes;
    private final boolean ignoreRoot;
    private final List<String> ignoreXattrPrefixes;
    private final List<IdMapping> uidMap;
    private final List<IdMapping> gidMap;
    private final Set<String> excluded;

    private Options(Builder b) {
      this.ignoreMtimes = Collections.unmodifiableSet(EnumSet.copyOf(b.ignoreMtimes));
      this.ignoreRoot = b.ignoreRoot;
      this.ignoreXattrPrefixes = List.copyOf(b.ignoreXattrPrefixes);
      this.uidMap = b.uidMap;
      this.gidMap = b.gidMap;
      this.excluded = Set.copyOf(b.excluded);
    }

    /** A builder with everything recorded. */
    public static Builder builder() {
      return new Builder();
    }

    /** Builds {@link Options}. */
    public static final class Builder {
      private final Set<Type> ignoreMtimes = EnumSet.noneOf(Type.class);
      private boolean ignoreRoot;
      private final List<String> ignoreXattrPrefixes = new ArrayList<>();
      private List<IdMapping> uidMap;
      private List<IdMapping> gidMap;
      private final Set<String> excluded = new LinkedHashSet<>();

      private Builder() {}

      /** Records no mtimes at all. */
      public Builder ignoreMtimes() {
        ignoreMtimes.addAll(EnumSet.allOf(Type.class));
        return this;
      }

      /** Records no mtimes of directories (unpacking a layer into them changes them). */
      public Builder ignoreDirectoryMtimes() {
        return ignoreMtimesOf(Type.DIR);
      }

      /** Records no mtimes of entries of these types (e.g. symlinks). */
      public Builder ignoreMtimesOf(Type... types) {
        ignoreMtimes.addAll(List.of(types));
        return this;
      }

      /** Records only the type of the root itself (its mode, owner, mtime, xattrs vary). */
      public Builder ignoreRootAttributes() {
        ignoreRoot = true;
        return this;
      }

      /** Records no extended attribute whose name starts with this, e.g. "security.selinux". */
      public Builder ignoreXattrs(String prefix) {
        ignoreXattrPrefixes.add(Objects.requireNonNull(prefix));
        return this;
      }

      /**
       * Records owners as seen inside a user namespace with these maps: a host id in a range is
       * translated, any other becomes {@link TreeManifest#UNMAPPED}.
       */
      public Builder idMaps(List<IdMapping> uids, List<IdMapping> gids) {
        this.uidMap = List.copyOf(uids);
        this.gidMap = List.copyOf(gids);
        return this;
      }

      /** Records owners shifted down: host id {@code shift + n} is recorded as {@code n}. */
      public Builder shiftIds(long uidShift, long gidShift) {
        return idMaps(
            List.of(new IdMapping(0, uidShift, (1L << 32) - uidShift)),
            List.of(new IdMapping(0, gidShift, (1L << 32) - gidShift)));
      }

      /**
       * Records owners as the user namespace of {@link ChildJvm.Mode#USER_NAMESPACE} for this user
       * sees them (0 is the user, 1.. its subordinate ids): to compare a tree a test user unpacked
       * in its namespace, walked from outside, with an expected tree.
       */
      public Builder userNamespace(TestUser user) {
        return idMaps(
            IdMapping.userNamespace(user.uid(), user.subuidStart(), user.subuidCount()),
            IdMapping.userNamespace(user.gid(), user.subgidStart(), user.subgidCount()));
      }

      /** Leaves out this path (relative, display form) and everything under it. */
      public Builder exclude(String path) {
        excluded.add(stripSlashes(path));
        return this;
      }

      /** The options. */
      public Options build() {
        return new Options(this);
      }
    }

    private boolean excludes(String path) {
      for (String e : excluded) {
        if (path.equals(e) || path.startsWith(e + "/")) {
          return true;
        }
      }
      return false;
    }

    private boolean keepsXattr(String name) {
      for (String p : ignoreXattrPrefixes) {
        if (name.startsWith(p)) {
          return false;
        }
      }
      return true;
    }

    private static Long map(Long id, List<IdMapping> map) {
      if (id == null || map == null || id == UNMAPPED) {
        return id;
      }
      for (IdMapping m : map) {
        if (id >= m.outside() && id - m.outside() < m.count()) {
          return m.inside() + id - m.outside();
        }
      }
      return UNMAPPED;
    }

    /** The entry as these options record it, or null when it is excluded. */
    Entry apply(Entry e) {
      if (excludes(e.path())) {
        return null;
      }
      if (ignoreRoot && e.path().equals(".")) {
        return new Entry(
            ".", e.type(), null, null, null, null, null, null, null, null, null, null, null, null);
      }
      SortedMap<String, String> x = null;
      if (e.xattrs() != null) {
        x = new TreeMap<>();
        for (Map.Entry<String, String> a : e.xattrs().entrySet()) {
          if (keepsXattr(a.getKey())) {
            x.put(a.getKey(), a.getValue());
          }
        }
      }
      boolean noMtime = ignoreMtimes.contains(e.type());
      return new Entry(
          e.path(),
          e.type(),
          e.mode(),
          map(e.uid(), uidMap),
          map(e.gid(), gidMap),
          e.size(),
          e.sha256(),
          e.target(),
          e.rdevMajor(),
          e.rdevMinor(),
          e.hardlink(),
          noMtime ? null : e.mtimeSec(),
          noMtime ? null : e.mtimeNanos(),
          x);
    }
  }

  /**
   * One difference between two manifests: an entry only on one side ({@code field} is "entry", the
   * missing side null), or a field whose values differ.
   */
  public record Difference(String path, String field, String left, String right) {
    /** A readable line, naming the sides. */
    public String describe(String leftName, String rightName) {
      if (field.equals("entry")) {
        return left == null
            ? "only in " + rightName + ": " + right
            : "only in " + leftName + ": " + left;
      }
      return quote(path)
          + ": "
          + field
          + " "
          + (left == null ? "(none)" : left)
          + " ("
          + leftName
          + ") vs "
          + (right == null ? "(none)" : right)
          + " ("
          + rightName
          + ")";
    }

    @Override
    public String toString() {
      return describe("left", "right");
    }
  }

  private static final Comparator<String> PATH_ORDER =
      (a, b) -> {
        if (a.equals(b)) {
          return 0;
        }
        if (a.equals(".")) {
          return -1;
        }
        if (b.equals(".")) {
          return 1;
        }
        // Component by component, without splitting (deep trees have paths of thousands of
        // components): at the first difference, a component that ends ('/') comes first.
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
          char ca = a.charAt(i);
          char cb = b.charAt(i);
          if (ca != cb) {
            return ca == '/' ? -1 : cb == '/' ? 1 : Character.compare(ca, cb);
          }
        }
        return Integer.compare(a.length(), b.length());
      };

  private final List<Entry> entries;
  private final Map<String, Entry> byPath;

  private TreeManifest(Collection<Entry> entries) {
    Map<String, Entry> sorted = new TreeMap<>(PATH_ORDER);
    for (Entry e : entries) {
      if (sorted.put(e.path(), e) != null) {
        throw new IllegalArgumentException("two entries for " + e.path());
      }
    }
    this.entries = List.copyOf(sorted.values());
    this.byPath = Collections.unmodifiableMap(new HashMap<>(sorted));
  }

  /** The manifest of the tree at {@code root}, everything recorded. */
  public static TreeManifest of(Path root) throws IOException {
    return of(root, Options.DEFAULT);
  }

  /** The manifest of the tree at {@code root} as {@code options} record it. */
  public static TreeManifest of(Path root, Options options) throws IOException {
    return new Walk().run(root).normalize(options);
  }

  /** A manifest of entries made in code or read elsewhere (sorted here). */
  public static TreeManifest ofEntries(Collection<Entry> entries) {
    return new TreeManifest(entries);
  }

  /**
   * This manifest as {@code options} would have recorded it (for one loaded from JSON or built in
   * code). Id maps are applied to the ids as they are, so apply them to host ids only once.
   */
  public TreeManifest normalize(Options options) {
    List<Entry> out = new ArrayList<>();
    for (Entry e : entries) {
      Entry n = options.apply(e);
      if (n != null) {
        out.add(n);
      }
    }
    return new TreeManifest(out);
  }

  /** The entries, sorted. */
  public List<Entry> entries() {
    return entries;
  }

  /** The entry at a path (display form), if any. */
  public Optional<Entry> get(String path) {
    return Optional.ofNullable(byPath.get(stripSlashes(path)));
  }

  /** One {@link Entry#toText()} line per entry, each ending in a newline. */
  public String toText() {
    StringBuilder sb = new StringBuilder();
    for (Entry e : entries) {
      sb.append(e.toText()).append('\n');
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return toText();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TreeManifest && ((TreeManifest) o).entries.equals(entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  // ------------------------------------------------------------------ comparing

  /** What differs between this manifest (left) and {@code other} (right), in path order. */
  public List<Difference> diff(TreeManifest other) {
    Map<String, Entry> left = byPath;
    Map<String, Entry> right = other.byPath;
    Set<String> paths = new TreeSet<>(PATH_ORDER);
    paths.addAll(left.keySet());
    paths.addAll(right.keySet());
    List<Difference> out = new ArrayList<>();
    for (String p : paths) {
      Entry a = left.get(p);
      Entry b = right.get(p);
      if (a == null || b == null) {
        out.add(
            new Difference(
                p, "entry", a == null ? null : a.toText(), b == null ? null : b.toText()));
        continue;
      }
      if (a.type() != b.type()) {
        out.add(new Difference(p, "type", a.type().label(), b.type().label()));
        continue;
      }
      Map<String, String> fa = a.fields();
      Map<String, String> fb = b.fields();
      for (String f : fa.keySet()) {
        String va = fa.get(f);
        String vb = fb.get(f);
        if (!Objects.equals(va, vb)) {
          out.add(new Difference(p, f, va, vb));
        }
      }
      if (a.xattrs() == null || b.xattrs() == null) {
        if (a.xattrs() != b.xattrs()) {
          out.add(
              new Difference(
                  p,
                  "xattrs",
                  a.xattrs() == null ? null : a.xattrs().toString(),
                  b.xattrs() == null ? null : b.xattrs().toString()));
        }
      } else {
        Set<String> names = new TreeSet<>(a.xattrs().keySet());
        names.addAll(b.xattrs().keySet());
        for (String n : names) {
          String va = a.xattrs().get(n);
          String vb = b.xattrs().get(n);
          if (!Objects.equals(va, vb)) {
            out.add(new Difference(p, "xattr " + n, va, vb));
          }
        }
      }
    }
    return out;
  }

  /** How many differences {@link #assertSame} lists before it stops. */
  public static final int MAX_LISTED_DIFFERENCES = 50;

  /**
   * Passes when the manifests have no {@link #diff difference}; otherwise throws an AssertionError
   * listing up to {@value #MAX_LISTED_DIFFERENCES} of them (and, for small trees, the actual
   * manifest).
   */
  public static void assertSame(TreeManifest expected, TreeManifest actual) {
    List<Difference> d = expected.diff(actual);
    if (d.isEmpty()) {
      return;
    }
    StringBuilder sb =
        new StringBuilder("the trees differ in ")
            .append(d.size())
            .append(d.size() == 1 ? " place" : " places")
            .append(":\n");
    for (int i = 0; i < Math.min(d.size(), MAX_LISTED_DIFFERENCES); i++) {
      sb.append("  ").append(d.get(i).describe("expected", "actual")).append('\n');
    }
    if (d.size() > MAX_LISTED_DIFFERENCES) {
      sb.append("  ... and ").append(d.size() - MAX_LISTED_DIFFERENCES).append(" more\n");
    }
    if (actual.entries.size() <= 100) {
      sb.append("actual manifest:\n").append(actual.toText());
    }
    throw new AssertionError(sb.toString());
  }

  // ------------------------------------------------------------------ JSON

  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The manifest as JSON: {@code {"entries": [{"path": ..., "type": "file", ...}, ...]}}. */
  public String toJson() {
    ObjectNode root = JSON.createObjectNode();
    ArrayNode list = root.putArray("entries");
    for (Entry e : entries) {
      ObjectNode n = list.addObject();
      n.put("path", e.path());
      n.put("type", e.type().label());
      if (e.mode() != null) {
        n.put("mode", String.format("%04o", e.mode()));
      }
      putLong(n, "uid", e.uid());
      putLong(n, "gid", e.gid());
      putLong(n, "size", e.size());
      if (e.sha256() != null) {
        n.put("sha256", e.sha256());
      }
      if (e.target() != null) {
        n.put("target", e.target());
      }
      putLong(n, "rdevMajor", e.rdevMajor());
      putLong(n, "rdevMinor", e.rdevMinor());
      if (e.hardlink() != null) {
        n.put("hardlink", e.hardlink());
      }
      putLong(n, "mtimeSec", e.mtimeSec());
      if (e.mtimeNanos() != null) {
        n.put("mtimeNanos", e.mtimeNanos());
      }
      if (e.xattrs() != null) {
        ObjectNode x = n.putObject("xattrs");
        e.xattrs().forEach(x::put);
      }
    }
    try {
      return JSON.writeValueAsString(root);
    } catch (JsonProcessingException ex) {
      throw new IllegalStateException("cannot write a manifest as JSON", ex);
    }
  }

  /** Reads what {@link #toJson()} wrote. */
  public static TreeManifest fromJson(String json) {
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (JsonProcessingException ex) {
      throw new IllegalArgumentException("not a manifest in JSON: " + ex.getOriginalMessage(), ex);
    }
    JsonNode list = root.get("entries");
    if (list == null || !list.isArray()) {
      throw new IllegalArgumentException("not a manifest in JSON: no \"entries\" array");
    }
    List<Entry> out = new ArrayList<>();
    for (JsonNode n : list) {
      SortedMap<String, String> x = null;
      if (n.has("xattrs")) {
        x = new TreeMap<>();
        for (Map.Entry<String, JsonNode> f : n.get("xattrs").properties()) {
          x.put(f.getKey(), f.getValue().asText());
        }
      }
      out.add(
          new Entry(
              text(n, "path"),
              Type.ofLabel(text(n, "type")),
              n.has("mode") ? Integer.parseInt(text(n, "mode"), 8) : null,
              longOf(n, "uid"),
              longOf(n, "gid"),
              longOf(n, "size"),
              text(n, "sha256"),
              text(n, "target"),
              longOf(n, "rdevMajor"),
              longOf(n, "rdevMinor"),
              text(n, "hardlink"),
              longOf(n, "mtimeSec"),
              n.has("mtimeNanos") ? n.get("mtimeNanos").asInt() : null,
              x));
    }
    return new TreeManifest(out);
  }

  private static void putLong(ObjectNode n, String key, Long v) {
    if (v != null) {
      n.put(key, v);
    }
  }

  private static String text(JsonNode n, String key) {
    JsonNode v = n.get(key);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Long longOf(JsonNode n, String key) {
    JsonNode v = n.get(key);
    return v == null || v.isNull() ? null : v.asLong();
  }

  // ------------------------------------------------------------------ the walk

  /** One walk of a tree through Sys, collecting raw entries (host ids, everything recorded). */
  private static final class Walk {
    private final List<Entry> out = new ArrayList<>();
    private final Map<String, List<String>> byInode = new HashMap<>();
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(256 * 1024);

    TreeManifest run(Path root) throws IOException {
      try (Fd dir = Sys.openDirectory(root.toString())) {
        Stat st = Sys.fstat(dir.get());
        SortedMap<String, String> x = new TreeMap<>();
        for (String name : Sys.flistxattr(dir.get())) {
          byte[] v = Sys.fgetxattr(dir.get(), name);
          if (v != null) {
            x.put(name, xattrValue(v));
          }
        }
        out.add(entry(".", st, null, null, x));
        walk(dir.get(), "");
      }
      // Hardlink groups: inodes with more than one name in the tree, named by their first path.
      Map<String, String> group = new HashMap<>();
      for (List<String> paths : byInode.values()) {
        if (paths.size() > 1) {
          String first = Collections.min(paths, PATH_ORDER);
          for (String p : paths) {
            group.put(p, first);
          }
        }
      }
      List<Entry> withGroups = new ArrayList<>();
      for (Entry e : out) {
        String g = group.get(e.path());
        withGroups.add(g == null ? e : e.withHardlink(g));
      }
      return new TreeManifest(withGroups);
    }

    /**
     * Pre-order, entries in directory order; iterative, holding at most {@link DirStack#MAX_HELD}
     * descriptors whatever the depth (a manifest of a hostile tree must not run out of either).
     */
    private void walk(int rootFd, String rootPrefix) throws IOException {
      DirStack.walk(
          rootFd,
          rootPrefix,
          (dirFd, d, prefix) -> {
            byte[] name = d.name();
            String path =
                prefix.isEmpty() ? Names.display(name) : prefix + "/" + Names.display(name);
            Stat st = Sys.fstatat(dirFd, name, Sys.AT_SYMLINK_NOFOLLOW);
            SortedMap<String, String> x = new TreeMap<>();
            for (String attr : Sys.llistxattrAt(dirFd, name)) {
              byte[] v = Sys.lgetxattrAt(dirFd, name, attr);
              if (v != null) {
                x.put(attr, xattrValue(v));
              }
            }
            String sha = null;
            String target = null;
            if (st.isRegular()) {
              sha = hash(dirFd, name, path);
            } else if (st.isSymlink()) {
              target = Names.display(Sys.readlinkat(dirFd, name));
            }
            out.add(entry(path, st, sha, target, x));
            if (!st.isDirectory() && st.nlink() > 1) {
              byInode.computeIfAbsent(st.inodeKey(), k -> new ArrayList<>()).add(path);
            }
            return st.isDirectory() ? path : null;
          });
    }

    private String hash(int dirFd, byte[] name, String path) throws IOException {
      MessageDigest md = sha256Digest();
      try (Fd f = new Fd(Sys.openat(dirFd, name, Sys.O_RDONLY | Sys.O_NOFOLLOW, 0))) {
        while (true) {
          buffer.clear();
          int n = Sys.read(f.get(), buffer);
          if (n <= 0) {
            break;
          }
          buffer.flip();
          md.update(buffer);
        }
      } catch (IOException e) {
        throw new IOException("cannot read " + path + " for its digest: " + e.getMessage(), e);
      }
      return HexFormat.of().formatHex(md.digest());
    }

    private static Entry entry(
        String path, Stat st, String sha, String target, SortedMap<String, String> xattrs) {
      Type t = Type.of(st);
      boolean dev = t == Type.CHAR || t == Type.BLOCK;
      return new Entry(
          path,
          t,
          st.permissions(),
          st.uid(),
          st.gid(),
          t == Type.FILE ? st.size() : null,
          sha,
          target,
          dev ? st.rdevMajor() : null,
          dev ? st.rdevMinor() : null,
          null,
          st.mtimeSec(),
          st.mtimeNsec(),
          xattrs);
    }
  }

  // ------------------------------------------------------------------ helpers

  /** The SHA-256 of some bytes, lower-case hex. */
  public static String sha256(byte[] content) {
    return HexFormat.of().formatHex(sha256Digest().digest(content));
  }

  private static MessageDigest sha256Digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  /**
   * An xattr value as a manifest shows it: {@code "text"} when every byte is printable ASCII other
   * than a quote or backslash, else {@code 0x} and lower-case hex.
   */
  public static String xattrValue(byte[] v) {
    boolean text = true;
    for (byte b : v) {
      if (b < 0x20 || b > 0x7e || b == '"' || b == '\\') {
        text = false;
        break;
      }
    }
    if (text) {
      return "\"" + new String(v, StandardCharsets.US_ASCII) + "\"";
    }
    return "0x" + HexFormat.of().formatHex(v);
  }

  private static String id(Long id) {
    if (id == null) {
      return "?";
    }
    return id == UNMAPPED ? "unmapped" : id.toString();
  }

  private static String time(long sec, Integer nanos) {
    return String.format("%d.%09d", sec, nanos == null ? 0 : nanos);
  }

  /** A path or target as a token: quoted when it holds a space, quote, '=' or is empty. */
  private static String quote(String s) {
    if (!s.isEmpty() && s.chars().noneMatch(c -> c == ' ' || c == '"' || c == '=')) {
      return s;
    }
    return "\"" + s.replace("\"", "\\\"") + "\"";
  }

  private static String stripSlashes(String path) {
    String p = path;
    while (p.startsWith("./")) {
      p = p.substring(2);
    }
    while (p.startsWith("/")) {
      p = p.substring(1);
    }
    while (p.endsWith("/") && p.length() > 1) {
      p = p.substring(0, p.length() - 1);
    }
    return p.isEmpty() ? "." : p;
  }
}
