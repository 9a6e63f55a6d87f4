package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.stream.Collectors;

/**
 * An immutable mapping of container ids to host ids for one kind of id (uids or gids): the ranges
 * of a user namespace's {@code uid_map}, of the rootless layout, or of Docker's {@code UIDMaps}.
 *
 * <p>As the kernel requires, no two ranges share a container id or a host id, so the mapping is a
 * bijection between the ids it covers. Lookups both ways are binary searches over the ranges sorted
 * by each column, O(log n). Ids are unsigned 32-bit held in a {@code long}; negative ids, ids above
 * 4294967294 and ids outside every range are simply unmapped.
 *
 * <p>The empty mapping maps nothing (a namespace whose map was never written: every id is the
 * overflow id 65534 and no chown succeeds). {@link #identity()} maps every id to itself, as in the
 * initial namespace.
 */
public final class IdMapping {
  private static final IdMapping IDENTITY = new IdMapping(List.of(new IdRange(0, 0, Ids.LIMIT)));
  private static final IdMapping EMPTY = new IdMapping(List.of());

  private final List<IdRange> ranges; // as given
  private final IdRange[] byContainer;
  private final IdRange[] byHost;
  private final long size;

  private IdMapping(List<IdRange> ranges) {
    this.ranges = List.copyOf(ranges);
    this.byContainer = this.ranges.toArray(new IdRange[0]);
    this.byHost = byContainer.clone();
    Arrays.sort(byContainer, Comparator.comparingLong(IdRange::containerId));
    Arrays.sort(byHost, Comparator.comparingLong(IdRange::hostId));
    for (int i = 1; i < byContainer.length; i++) {
      if (byContainer[i].containerId() <= byContainer[i - 1].lastContainerId()) {
        throw new IllegalArgumentException(
            "the ranges "
                + byContainer[i - 1]
                + " and "
                + byContainer[i]
                + " share container ids; the kernel refuses such a map");
      }
      if (byHost[i].hostId() <= byHost[i - 1].lastHostId()) {
        throw new IllegalArgumentException(
            "the ranges "
                + byHost[i - 1]
                + " and "
                + byHost[i]
                + " share host ids; the kernel refuses such a map");
      }
    }
    long total = 0;
    for (IdRange r : byContainer) {
      total += r.size();
    }
    this.size = total;
  }

  /** A mapping of these ranges (any order); they must not share container or host ids. */
  public static IdMapping of(List<IdRange> ranges) {
    return ranges.isEmpty() ? EMPTY : new IdMapping(ranges);
  }

  /** A mapping of these ranges (any order); they must not share container or host ids. */
  public static IdMapping of(IdRange... ranges) {
    return of(Arrays.asList(ranges));
  }

  /** Every id 0-4294967294 to itself: the initial user namespace, {@code 0 0 4294967295}. */
  public static IdMapping identity() {
    return IDENTITY;
  }

  /** No ids at all. */
  public static IdMapping empty() {
    return EMPTY;
  }

  /**
   * Parses the text of {@code /proc/PID/uid_map} or {@code gid_map}: one range a line, three
   * unsigned numbers separated by white space (the kernel pads them to width 10).
   *
   * @throws IllegalArgumentException naming the line when it is not of that form
   */
  public static IdMapping parseProcMap(String text) {
    List<IdRange> out = new ArrayList<>();
    String[] lines = text.split("\n");
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\\s+");
      try {
        if (f.length != 3) {
          throw new NumberFormatException();
        }
        out.add(new IdRange(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2])));
      } catch (IllegalArgumentException e) { // NumberFormatException is one
        throw new IllegalArgumentException(
            "line " + (i + 1) + " of the id map is not \"CONTAINER-ID HOST-ID SIZE\": " + line, e);
      }
    }
    return of(out);
  }

  /** Reads a {@code uid_map}/{@code gid_map} file; see {@link #parseProcMap}. */
  public static IdMapping fromProcFile(Path file) throws IOException {
    String text = new String(Files.readAllBytes(file), StandardCharsets.US_ASCII);
    try {
      return parseProcMap(text);
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /** This process's map for {@code kind}, from {@code /proc/self/uid_map} or {@code gid_map}. */
  public static IdMapping current(IdKind kind) throws IOException {
    return fromProcFile(Path.of("/proc/self", kind.procMapName()));
  }

  /**
   * The rootless layout, as rootlesskit and layerd's own re-exec write it with {@code
   * newuidmap}/{@code newgidmap}: container 0 is {@code ownId} (the user's own uid or gid), and
   * container ids 1, 2, ... are the subordinate ranges one after the other in the order given (file
   * order). With one range of 65,536 ids the layout maps container ids 0-65536.
   *
   * <p>(util-linux {@code unshare --map-root-user --map-auto} maps only the first range, and one id
   * less: {@code 0 UID 1} and {@code 1 START COUNT-1}.)
   *
   * @throws IllegalArgumentException when ranges overlap each other or {@code ownId}, which the
   *     kernel refuses
   */
  public static IdMapping rootless(long ownId, List<SubIdRange> subordinate) {
    List<IdRange> out = new ArrayList<>();
    out.add(new IdRange(0, ownId, 1));
    long next = 1;
    for (SubIdRange r : subordinate) {
      out.add(new IdRange(next, r.start(), r.count()));
      next += r.count();
    }
    return of(out);
  }

  /**
   * The mapping of Docker's {@code UIDMaps} or {@code GIDMaps} (moby's {@code idtools.IDMap}), as
   * decoded JSON objects. Keys are {@code container_id}, {@code host_id}, {@code size} (what
   * dockerd sends a graph-driver plugin) or Go's field names {@code ContainerID}, {@code HostID},
   * {@code Size}; values are numbers or numeric strings. A null or empty list is Docker's "no
   * remapping": {@link #identity()}.
   *
   * @throws IllegalArgumentException naming the entry when a key is missing or not a number
   */
  public static IdMapping fromDocker(List<? extends Map<String, ?>> maps) {
    if (maps == null || maps.isEmpty()) {
      return IDENTITY;
    }
    List<IdRange> out = new ArrayList<>();
    for (int i = 0; i < maps.size(); i++) {
      Map<String, ?> m = maps.get(i);
      out.add(
          new IdRange(
              dockerField(m, i, "container_id", "ContainerID"),
              dockerField(m, i, "host_id", "HostID"),
              dockerField(m, i, "size", "Size")));
    }
    return of(out);
  }

  private static long dockerField(Map<String, ?> m, int index, String key, String goKey) {
    Object v = m.containsKey(key) ? m.get(key) : m.get(goKey);
    if (v instanceof Number) {
      Number n = (Number) v;
      if (n.doubleValue() != n.longValue()) {
        throw new IllegalArgumentException("id map entry " + index + ": " + key + " is not whole");
      }
      return n.longValue();
    }
    if (v instanceof CharSequence) {
      try {
        return Long.parseLong(v.toString().strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "id map entry " + index + ": " + key + " \"" + v + "\" is not a number", e);
      }
    }
    throw new IllegalArgumentException(
        "id map entry " + index + " has no " + key + " (entry: " + m + ")");
  }

  /** The ranges, in the order given (for {@code /proc} maps, the kernel's order). */
  public List<IdRange> ranges() {
    return ranges;
  }

  /** How many ids are mapped. */
  public long size() {
    return size;
  }

  public boolean isEmpty() {
    return ranges.isEmpty();
  }

  /** True for the initial namespace's map, every id to itself. */
  public boolean isIdentity() {
    return ranges.size() == 1 && ranges.get(0).equals(IDENTITY.ranges.get(0));
  }

  /** True when container id {@code id} is mapped. */
  public boolean isMapped(long containerId) {
    return find(byContainer, containerId, true) != null;
  }

  /** The host id of container id {@code id}, or empty when it is not mapped. */
  public OptionalLong toHost(long containerId) {
    long h = hostIdOf(containerId);
    return h < 0 ? OptionalLong.empty() : OptionalLong.of(h);
  }

  /** The container id of host id {@code id}, or empty when no container id maps to it. */
  public OptionalLong toContainer(long hostId) {
    long c = containerIdOf(hostId);
    return c < 0 ? OptionalLong.empty() : OptionalLong.of(c);
  }

  /** {@link #toHost} without the box: the host id, or -1 when unmapped. */
  public long hostIdOf(long containerId) {
    IdRange r = find(byContainer, containerId, true);
    return r == null ? -1 : r.hostId() + (containerId - r.containerId());
  }

  /** {@link #toContainer} without the box: the container id, or -1 when unmapped. */
  public long containerIdOf(long hostId) {
    IdRange r = find(byHost, hostId, false);
    return r == null ? -1 : r.containerId() + (hostId - r.hostId());
  }

  /** The range holding container id {@code id}, or null. */
  public IdRange rangeOfContainerId(long containerId) {
    return find(byContainer, containerId, true);
  }

  /** The highest mapped container id, or empty for the empty mapping. */
  public OptionalLong highestContainerId() {
    return byContainer.length == 0
        ? OptionalLong.empty()
        : OptionalLong.of(byContainer[byContainer.length - 1].lastContainerId());
  }

  /** True when container ids 0 to the highest are all mapped (no holes). */
  public boolean isContiguousFromZero() {
    long next = 0;
    for (IdRange r : byContainer) {
      if (r.containerId() != next) {
        return false;
      }
      next = r.containerId() + r.size();
    }
    return byContainer.length > 0;
  }

  private static IdRange find(IdRange[] sorted, long id, boolean container) {
    if (!Ids.valid(id)) {
      return null;
    }
    int lo = 0;
    int hi = sorted.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      IdRange r = sorted[mid];
      long first = container ? r.containerId() : r.hostId();
      if (id < first) {
        hi = mid - 1;
      } else if (id - first >= r.size()) {
        lo = mid + 1;
      } else {
        return r;
      }
    }
    return null;
  }

  /** The text {@code /proc/PID/uid_map} would show (without the kernel's padding). */
  public String toProcMap() {
    return ranges.stream().map(r -> r.toMapLine() + "\n").collect(Collectors.joining());
  }

  /**
   * The arguments {@code newuidmap PID ...} takes for this mapping: container id, host id, size,
   * for each range.
   */
  public List<String> toMapToolArgs() {
    List<String> out = new ArrayList<>();
    for (IdRange r : ranges) {
      out.add(Long.toString(r.containerId()));
      out.add(Long.toString(r.hostId()));
      out.add(Long.toString(r.size()));
    }
    return out;
  }

  /** "0-65535 (65,536 ids)" style summary of the container side: "0-65536 in 2 ranges". */
  public String describeContainerIds() {
    if (byContainer.length == 0) {
      return "no ids";
    }
    if (isIdentity()) {
      return "every id (the initial namespace)";
    }
    StringBuilder b = new StringBuilder();
    if (isContiguousFromZero()) {
      b.append(Ids.span(0, size));
    } else {
      b.append(
          Arrays.stream(byContainer)
              .map(r -> Ids.span(r.containerId(), r.size()))
              .collect(Collectors.joining(", ")));
    }
    b.append(" (").append(Ids.plural(size, "id", "ids")).append(')');
    return b.toString();
  }

  /** Equal when the same ranges are mapped, whatever their order. */
  @Override
  public boolean equals(Object o) {
    return o instanceof IdMapping && Arrays.equals(((IdMapping) o).byContainer, byContainer);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(byContainer);
  }

  /** The map lines separated by "; ": "0 1000 1; 1 100000 65536". */
  @Override
  public String toString() {
    return ranges.stream().map(IdRange::toMapLine).collect(Collectors.joining("; "));
  }
}
