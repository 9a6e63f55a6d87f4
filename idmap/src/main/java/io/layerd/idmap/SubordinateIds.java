package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One user's subordinate ids: the user, and the parsed {@code /etc/subuid} and {@code /etc/subgid}
 * (whole files, since a range to add must be free of every user's lines). Answers how many ids the
 * user has, what the rootless layout of them is, where a mapping's ranges come from, and which
 * range to add so that an id fits. Immutable.
 */
public final class SubordinateIds {
  private final UserAccount user;
  private final SubIdFile subuid;
  private final SubIdFile subgid;

  private SubordinateIds(UserAccount user, SubIdFile subuid, SubIdFile subgid) {
    this.user = Objects.requireNonNull(user, "user");
    this.subuid = Objects.requireNonNull(subuid, "subuid");
    this.subgid = Objects.requireNonNull(subgid, "subgid");
  }

  public static SubordinateIds of(UserAccount user, SubIdFile subuid, SubIdFile subgid) {
    return new SubordinateIds(user, subuid, subgid);
  }

  /** The user's ids from the system's {@code /etc/subuid} and {@code /etc/subgid}. */
  public static SubordinateIds load(UserAccount user) throws IOException {
    return load(user, IdKind.UID.defaultSubIdFile(), IdKind.GID.defaultSubIdFile());
  }

  /** The user's ids from the given files. */
  public static SubordinateIds load(UserAccount user, Path subuid, Path subgid) throws IOException {
    return new SubordinateIds(user, SubIdFile.parse(subuid), SubIdFile.parse(subgid));
  }

  public UserAccount user() {
    return user;
  }

  /** The whole parsed file for {@code kind}. */
  public SubIdFile file(IdKind kind) {
    return kind == IdKind.UID ? subuid : subgid;
  }

  /** The user's ranges of {@code kind}, in file order (by name or numeric uid). */
  public List<SubIdRange> ranges(IdKind kind) {
    return file(kind).rangesFor(user.name(), user.uid());
  }

  /** How many subordinate ids of {@code kind} the user has. */
  public long count(IdKind kind) {
    return file(kind).countFor(user.name(), user.uid());
  }

  /** Both files' problems. */
  public Problems problems() {
    return subuid.problems().plus(subgid.problems());
  }

  /** The user's own id of {@code kind}: uid or primary gid. */
  public long ownId(IdKind kind) {
    return kind == IdKind.UID ? user.uid() : user.gid();
  }

  /**
   * The rootless layout of the user's ranges (see {@link IdMapping#rootless}): what layerd's
   * re-exec and rootlesskit set up.
   *
   * @throws IllegalArgumentException when the user's ranges overlap (newuidmap refuses them too)
   */
  public IdMappings rootlessLayout() {
    return new IdMappings(
        IdMapping.rootless(user.uid(), ranges(IdKind.UID)),
        IdMapping.rootless(user.gid(), ranges(IdKind.GID)));
  }

  /**
   * The range to add so that the user has at least {@code idsNeeded} subordinate ids of {@code
   * kind}, or empty when the user already has that many. In the rootless layout, container id X
   * needs X subordinate ids (container 0 is the user's own id); under Docker's {@code
   * --userns-remap} it needs X + 1.
   *
   * <p>The range is a whole number of 65,536-id blocks covering the shortfall, placed at the first
   * hole free of every line of the file (and of the user's own id) at or after the end of the
   * user's last range, or from 100,000 (login.defs' SUB_UID_MIN) for a user without ranges. With
   * {@code testuser:165536:65536} and container id 70000 it is 231072-296607 when no other line
   * uses those ids.
   */
  public Optional<RangeSuggestion> suggest(IdKind kind, long idsNeeded) {
    long have = count(kind);
    if (idsNeeded <= have) {
      return Optional.empty();
    }
    long shortfall = idsNeeded - have;
    long size = ((shortfall + Ids.BLOCK - 1) / Ids.BLOCK) * Ids.BLOCK;
    long from = ranges(kind).stream().mapToLong(SubIdRange::end).max().orElse(Ids.SUB_ID_MIN);
    long start = freeHole(kind, Math.max(from, Ids.SUB_ID_MIN), size);
    if (start < 0) {
      start = freeHole(kind, Ids.SUB_ID_MIN, size);
    }
    if (start < 0 && size > shortfall) { // a whole block does not fit anywhere: try the minimum
      size = shortfall;
      start = freeHole(kind, Ids.SUB_ID_MIN, size);
    }
    return start < 0 ? Optional.empty() : Optional.of(new RangeSuggestion(kind, start, size));
  }

  /** shadow's find_free_range: the lowest start >= min of {@code count} ids used by no line. */
  private long freeHole(IdKind kind, long min, long count) {
    List<long[]> used = new ArrayList<>();
    for (SubIdRange r : file(kind).ranges()) {
      used.add(new long[] {r.start(), r.end()});
    }
    used.add(new long[] {ownId(kind), ownId(kind) + 1});
    used.sort(Comparator.comparingLong(a -> a[0]));
    long low = min;
    for (long[] u : used) {
      if (u[0] >= low && u[0] - low >= count) {
        break;
      }
      low = Math.max(low, u[1]);
    }
    return low + count <= Ids.LIMIT ? low : -1;
  }

  /**
   * The {@code usermod} command that lets container ids up to {@code highestUid} and {@code
   * highestGid} fit in the rootless layout, or empty when they already fit. Pass -1 for a kind that
   * needs nothing.
   */
  public Optional<String> usermodCommand(long highestUid, long highestGid) {
    List<RangeSuggestion> s = new ArrayList<>();
    if (highestUid >= 0) {
      suggest(IdKind.UID, highestUid).ifPresent(s::add);
    }
    if (highestGid >= 0) {
      suggest(IdKind.GID, highestGid).ifPresent(s::add);
    }
    return s.isEmpty()
        ? Optional.empty()
        : Optional.of(RangeSuggestion.usermodCommand(s, user.name()));
  }

  /**
   * Where each range of {@code mapping} (a mapping of {@code kind}) comes from: the user's own id,
   * the subordinate lines its host ids fall in (the user's lines first), or nothing known.
   */
  public List<RangeOrigin> explain(IdKind kind, IdMapping mapping) {
    List<RangeOrigin> out = new ArrayList<>();
    for (IdRange r : mapping.ranges()) {
      out.add(origin(kind, r));
    }
    return out;
  }

  private RangeOrigin origin(IdKind kind, IdRange r) {
    if (r.equals(IdMapping.identity().ranges().get(0))) {
      return new RangeOrigin(r, "(the initial namespace: no user namespace)", List.of());
    }
    if (r.size() == 1 && r.hostId() == ownId(kind)) {
      return new RangeOrigin(
          r, "(" + user.name() + "'s own " + (kind == IdKind.UID ? "uid" : "gid") + ")", List.of());
    }
    List<SubIdRange> lines = file(kind).overlapping(r.hostId(), r.size());
    List<SubIdRange> mine =
        lines.stream().filter(l -> l.ownedBy(user.name(), user.uid())).collect(Collectors.toList());
    List<SubIdRange> used = mine.isEmpty() ? lines : mine;
    if (used.isEmpty()) {
      return new RangeOrigin(r, "(in no line of " + file(kind).path() + ")", List.of());
    }
    String d =
        "from "
            + used.stream()
                .map(l -> l.where() + " \"" + l.entry() + "\"")
                .collect(Collectors.joining(", "));
    if (mine.isEmpty()) {
      d += ", a range of another user";
    }
    return new RangeOrigin(r, d, used);
  }

  @Override
  public String toString() {
    return "subordinate ids of "
        + user
        + ": "
        + count(IdKind.UID)
        + " uids, "
        + count(IdKind.GID)
        + " gids";
  }
}
