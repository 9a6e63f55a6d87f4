package io.layerd.daemon.containerd;

import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRange;
import io.layerd.idmap.IdRemapper;
import io.layerd.idmap.UnmappedIdPolicy;
import io.layerd.unpack.IdOwners;
import io.layerd.unpack.OwnerMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The user-namespace mapping containerd asks a snapshot's files to be seen through: the labels
 * {@value #UID_LABEL} and {@value #GID_LABEL} (containerd's {@code
 * snapshots.LabelSnapshotUIDMapping} and {@code LabelSnapshotGIDMapping}), which {@code ctr run
 * --uidmap/--gidmap --remap-labels} and the CRI's user namespaces set on a container's snapshot
 * when the snapshotter declares the {@code remap-ids} capability.
 *
 * <p>Their values are as containerd's {@code userns.IDMap.Marshal} writes them: one or more ranges
 * {@code CONTAINER-ID:HOST-ID:SIZE}, separated by commas ({@code 0:100000:65536}, or {@code
 * 0:666:1000,1000:6666:64536}). A file owned by container id {@code c} in the image is, in the
 * snapshot, owned by the host id the range covering {@code c} gives; container 0 must be mapped
 * (the container's root owns the snapshot's root), and both labels must be given: containerd's
 * mount code maps ids only when it has both.
 *
 * @param uidmap the uid label, normalized: ranges sorted by container id
 * @param gidmap the gid label, normalized
 * @param mappings the two mappings
 */
record IdMapLabels(String uidmap, String gidmap, IdMappings mappings) {
  static final String UID_LABEL = "containerd.io/snapshot/uidmapping";
  static final String GID_LABEL = "containerd.io/snapshot/gidmapping";

  private static final Pattern RANGE = Pattern.compile("(\\d{1,10}):(\\d{1,10}):(\\d{1,10})");

  /**
   * The mapping the labels ask for, or null when neither label is there.
   *
   * @throws SnapshotException (INVALID_ARGUMENT) naming the label and its value when one is missing
   *     or malformed, when ranges overlap, or when container id 0 is not mapped
   */
  static IdMapLabels of(Map<String, String> labels) throws SnapshotException {
    String u = labels.get(UID_LABEL);
    String g = labels.get(GID_LABEL);
    if (u == null && g == null) {
      return null;
    }
    if (u == null || g == null || u.isEmpty() || g.isEmpty()) {
      throw SnapshotException.invalid(
          "snapshot labels "
              + UID_LABEL
              + " and "
              + GID_LABEL
              + " must be given together (got "
              + UID_LABEL
              + "="
              + quoted(u)
              + ", "
              + GID_LABEL
              + "="
              + quoted(g)
              + "): give both, e.g. ctr run --uidmap 0:100000:65536 --gidmap 0:100000:65536"
              + " --remap-labels");
    }
    IdMapping uids = parse(UID_LABEL, u);
    IdMapping gids = parse(GID_LABEL, g);
    return new IdMapLabels(format(uids), format(gids), new IdMappings(uids, gids));
  }

  /** Parses one label's value. */
  static IdMapping parse(String label, String value) throws SnapshotException {
    List<IdRange> ranges = new ArrayList<>();
    for (String part : value.split(",", -1)) {
      Matcher m = RANGE.matcher(part.strip());
      if (!m.matches()) {
        throw SnapshotException.invalid(
            "snapshot label "
                + label
                + "="
                + quoted(value)
                + ": \""
                + part
                + "\" is not CONTAINER-ID:HOST-ID:SIZE (e.g. 0:100000:65536; ranges separated by"
                + " commas)");
      }
      try {
        ranges.add(
            new IdRange(
                Long.parseLong(m.group(1)),
                Long.parseLong(m.group(2)),
                Long.parseLong(m.group(3))));
      } catch (IllegalArgumentException e) {
        throw SnapshotException.invalid(
            "snapshot label " + label + "=" + quoted(value) + ": " + e.getMessage());
      }
    }
    IdMapping mapping;
    try {
      mapping = IdMapping.of(ranges);
    } catch (IllegalArgumentException e) {
      throw SnapshotException.invalid(
          "snapshot label " + label + "=" + quoted(value) + ": " + e.getMessage());
    }
    if (!mapping.isMapped(0)) {
      throw SnapshotException.invalid(
          "snapshot label "
              + label
              + "="
              + quoted(value)
              + " does not map container id 0: the container's root must own its root directory;"
              + " add a range starting at 0, e.g. 0:100000:65536");
    }
    return mapping;
  }

  /** The ranges as containerd writes them, sorted by container id. */
  static String format(IdMapping m) {
    return m.ranges().stream()
        .sorted(Comparator.comparingLong(IdRange::containerId))
        .map(r -> r.containerId() + ":" + r.hostId() + ":" + r.size())
        .collect(Collectors.joining(","));
  }

  /** One string naming the mapping: equal for equal mappings, whatever the order of the ranges. */
  String key() {
    return "uidmap=" + uidmap + " gidmap=" + gidmap;
  }

  /** The host uid of the container's root. */
  long rootUid() {
    return mappings.uids().hostIdOf(0);
  }

  /** The host gid of the container's root. */
  long rootGid() {
    return mappings.gids().hostIdOf(0);
  }

  /**
   * Owners through the mapping, for a shifted copy: each file's owner is the host id of its
   * container id; a file owned by an id the mapping does not cover fails the copy, naming it.
   */
  OwnerMapper owners() throws IOException {
    return IdOwners.of(
        IdRemapper.builder()
            .shift(mappings)
            .subordinateIds(null)
            .policy(UnmappedIdPolicy.FAIL)
            .build());
  }

  private static String quoted(String s) {
    return s == null ? "(none)" : "\"" + s + "\"";
  }
}
