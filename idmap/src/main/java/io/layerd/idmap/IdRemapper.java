package io.layerd.idmap;

import io.layerd.idmap.UnmappedIdException.Reason;
import io.layerd.idmap.internal.Ids;
import io.layerd.sys.Errno;
import io.layerd.sys.NativeFailure;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Decides, for each tar entry, the ids an applier passes to chown, under an {@link
 * UnmappedIdPolicy}.
 *
 * <h2>Two mappings</h2>
 *
 * <p>An id in a tar header is a <em>container id</em>. What chown must be given depends on where
 * the applier runs:
 *
 * <ol>
 *   <li><b>The process's mapping</b> ({@code /proc/self/uid_map}, {@link IdMappings#current()}).
 *       chown(2) takes ids <em>as seen inside the caller's user namespace</em> and the kernel
 *       translates them; an id the namespace does not map gives {@code EINVAL}. Rootless (inside
 *       layerd's namespace or rootlesskit's), the namespace <em>is</em> the container: a tar uid
 *       70000 is passed as 70000 and is valid only when the first column of {@code uid_map} covers
 *       it. Rootful in the initial namespace every id is valid.
 *   <li><b>An optional shift</b>: Docker's {@code --userns-remap} ({@code UIDMaps}/{@code GIDMaps})
 *       for a rootful applier. Then chown takes the <em>host</em> id: tar uid 0 becomes 165536, and
 *       a tar id outside the remap map has no host id at all.
 * </ol>
 *
 * <p>So the id passed to chown is {@code shift(tarId)} (or {@code tarId} without a shift), and it
 * must be mapped by the process's namespace. {@link UnmappedIdPolicy#FAIL} throws {@link
 * UnmappedIdException} when either step fails; {@link UnmappedIdPolicy#SQUASH} gives the entry to
 * the namespace's root ({@code shift(0)}, or 0); {@link UnmappedIdPolicy#SKIP} returns {@link
 * Owner#KEEP} (-1) for the unmapped id, which chown leaves as it is: the entry keeps the owner it
 * was created with, the applier's own ids. Uid and gid are decided separately.
 *
 * <h2>Precise errors</h2>
 *
 * <p>Given the user's {@link SubordinateIds} (the namespace's owner rootless, the remap user with
 * Docker), the error names the {@code /etc/subuid} lines the mapping's ranges come from, how many
 * ids the user has and needs, and the {@code usermod} command that adds a free range.
 *
 * <h2>Use</h2>
 *
 * <pre>{@code
 * IdRemapper remapper = IdRemapper.forCurrentProcess(UnmappedIdPolicy.FAIL);
 * IdRemapper.LayerRemap ids = remapper.forLayer("sha256:1234...");
 * for (each entry) {
 *   Owner o = ids.owner(entry.path(), entry.uid(), entry.gid()); // UnmappedIdException
 *   if (o.changesOwner()) Sys.fchownat(dirFd, name, o.uid(), o.gid(), AT_SYMLINK_NOFOLLOW);
 * }
 * ids.squashedEntries(); ids.skippedEntries(); // for the summary
 * }</pre>
 *
 * <p>Immutable and thread-safe; a {@link LayerRemap} counts one layer and is not thread-safe.
 */
public final class IdRemapper {
  private final IdMappings process;
  private final IdMappings shift; // null: no shift
  private final SubordinateIds subIds; // null: unknown
  private final UnmappedIdPolicy policy;

  private IdRemapper(
      IdMappings process, IdMappings shift, SubordinateIds subIds, UnmappedIdPolicy policy) {
    this.process = Objects.requireNonNull(process, "process mappings");
    this.shift = shift == null || shift.isIdentity() ? null : shift;
    this.subIds = subIds;
    this.policy = Objects.requireNonNull(policy, "policy");
  }

  /** A builder; every part has a default (the policy: FAIL). */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The remapper for this process without a shift: the mappings of {@code /proc/self}, and the
   * subordinate ids of the host user this process runs as (for messages; left out when they cannot
   * be read).
   */
  public static IdRemapper forCurrentProcess(UnmappedIdPolicy policy) throws IOException {
    return builder().policy(policy).build();
  }

  /** Builds an {@link IdRemapper}. */
  public static final class Builder {
    private IdMappings process;
    private IdMappings shift;
    private SubordinateIds subIds;
    private boolean subIdsSet;
    private UnmappedIdPolicy policy = UnmappedIdPolicy.FAIL;

    private Builder() {}

    /** The mappings in force for the applying process; default {@link IdMappings#current()}. */
    public Builder processMappings(IdMappings m) {
      this.process = m;
      return this;
    }

    /** Docker's {@code UIDMaps}/{@code GIDMaps}; null or identity for none (the default). */
    public Builder shift(IdMappings m) {
      this.shift = m;
      return this;
    }

    /**
     * Whose subordinate ids make the mapping (for error messages and remedies); default: the host
     * user of this process with the system's files when there is no shift, none with a shift. Null
     * for none.
     */
    public Builder subordinateIds(SubordinateIds s) {
      this.subIds = s;
      this.subIdsSet = true;
      return this;
    }

    /** The policy; default {@link UnmappedIdPolicy#FAIL}. */
    public Builder policy(UnmappedIdPolicy p) {
      this.policy = Objects.requireNonNull(p, "policy");
      return this;
    }

    public IdRemapper build() throws IOException {
      IdMappings p = process != null ? process : IdMappings.current();
      SubordinateIds s = subIds;
      if (!subIdsSet && (shift == null || shift.isIdentity())) {
        try {
          s = SubordinateIds.load(UserAccount.current());
        } catch (IOException e) {
          s = null; // messages will say less; the mapping itself is known
        }
      }
      return new IdRemapper(p, shift, s, policy);
    }
  }

  public UnmappedIdPolicy policy() {
    return policy;
  }

  /** The process's mappings. */
  public IdMappings processMappings() {
    return process;
  }

  /** Docker's remap mappings, when there is a shift. */
  public Optional<IdMappings> shift() {
    return Optional.ofNullable(shift);
  }

  /** The subordinate ids used in messages, when known. */
  public Optional<SubordinateIds> subordinateIds() {
    return Optional.ofNullable(subIds);
  }

  /** The same remapper with another policy. */
  public IdRemapper withPolicy(UnmappedIdPolicy p) {
    return new IdRemapper(process, shift, subIds, p);
  }

  /**
   * The id to pass to chown for container id {@code id}, or -1 when it cannot be represented
   * (whatever the policy).
   */
  public long chownId(IdKind kind, long containerId) {
    long target = containerId;
    if (shift != null) {
      target = shift.get(kind).hostIdOf(containerId);
      if (target < 0) {
        return -1;
      }
    }
    return process.get(kind).isMapped(target) ? target : -1;
  }

  /**
   * The reverse of {@link #chownId}'s shift: the container id of a file owned by {@code hostId} (as
   * this process sees it), or -1 when the shift maps no container id to it. Without a shift, the
   * same id.
   */
  public long containerId(IdKind kind, long hostId) {
    return shift == null ? hostId : shift.get(kind).containerIdOf(hostId);
  }

  /** True when container id {@code id} can be given to an entry. */
  public boolean fits(IdKind kind, long containerId) {
    return chownId(kind, containerId) >= 0;
  }

  /** The id SQUASH gives: the namespace's root, {@code chownId(0)}; -1 when even that fails. */
  public long squashId(IdKind kind) {
    return chownId(kind, 0);
  }

  /**
   * The id to pass to chown for one id of one entry under the policy: the mapped id, the
   * namespace's root (SQUASH) or {@link Owner#KEEP} (SKIP).
   *
   * @throws UnmappedIdException under FAIL when the id does not fit, and under SQUASH when the
   *     namespace's root does not fit either
   */
  public long map(IdKind kind, String layer, String entryPath, long containerId)
      throws UnmappedIdException {
    long t = chownId(kind, containerId);
    if (t >= 0) {
      return t;
    }
    switch (policy) {
      case SQUASH:
        t = squashId(kind);
        if (t < 0) {
          throw unmapped(layer, entryPath, kind, containerId);
        }
        return t;
      case SKIP:
        return Owner.KEEP;
      case FAIL:
      default:
        throw unmapped(layer, entryPath, kind, containerId);
    }
  }

  /**
   * The owner for one entry, without counting (see {@link #forLayer} for counting).
   *
   * @throws UnmappedIdException under FAIL when an id does not fit, and under SQUASH when the
   *     namespace's root does not fit either
   */
  public Owner owner(String layer, String entryPath, long uid, long gid)
      throws UnmappedIdException {
    boolean unmapped = !fits(IdKind.UID, uid) || !fits(IdKind.GID, gid);
    long u = map(IdKind.UID, layer, entryPath, uid);
    long g = map(IdKind.GID, layer, entryPath, gid);
    return new Owner(
        u,
        g,
        unmapped && policy == UnmappedIdPolicy.SQUASH,
        unmapped && policy == UnmappedIdPolicy.SKIP);
  }

  /** A counter of squashed and skipped entries for one layer. */
  public LayerRemap forLayer(String layerName) {
    return new LayerRemap(this, layerName);
  }

  /** One layer's view of an {@link IdRemapper}: names the layer in errors and counts entries. */
  public static final class LayerRemap {
    private final IdRemapper remapper;
    private final String layer;
    private long entries;
    private long squashed;
    private long skipped;
    private String lastCounted;

    private LayerRemap(IdRemapper remapper, String layer) {
      this.remapper = remapper;
      this.layer = Objects.requireNonNull(layer, "layer");
    }

    /** See {@link IdRemapper#owner}; counts the entry. */
    public Owner owner(String entryPath, long uid, long gid) throws UnmappedIdException {
      Owner o = remapper.owner(layer, entryPath, uid, gid);
      entries++;
      if (o.squashed()) {
        squashed++;
      } else if (o.skipped()) {
        skipped++;
      }
      return o;
    }

    /**
     * One id of one entry, for appliers that ask for the uid and the gid separately (see {@link
     * IdRemapper#map}); an entry with an unmapped id is counted once even when both are.
     */
    public long map(IdKind kind, String entryPath, long containerId) throws UnmappedIdException {
      long t = remapper.map(kind, layer, entryPath, containerId);
      if (!remapper.fits(kind, containerId) && !entryPath.equals(lastCounted)) {
        lastCounted = entryPath;
        if (remapper.policy() == UnmappedIdPolicy.SQUASH) {
          squashed++;
        } else {
          skipped++;
        }
      }
      return t;
    }

    /** See {@link IdRemapper#explainChownFailure}. */
    public IOException explainChownFailure(
        String entryPath, long uid, long gid, IOException failure) {
      return remapper.explainChownFailure(layer, entryPath, uid, gid, failure);
    }

    public String layer() {
      return layer;
    }

    /** Entries decided so far through {@link #owner}. */
    public long entries() {
      return entries;
    }

    /** Entries whose unmapped owner was replaced by the namespace's root (SQUASH). */
    public long squashedEntries() {
      return squashed;
    }

    /** Entries whose unmapped owner was left as created (SKIP). */
    public long skippedEntries() {
      return skipped;
    }

    /** "1,204 entries: 3 squashed to root", or "" when nothing was squashed or skipped. */
    public String summary() {
      if (squashed == 0 && skipped == 0) {
        return "";
      }
      return layer
          + ": "
          + (squashed > 0
              ? Ids.plural(squashed, "entry", "entries")
                  + " with unmapped owners given to the namespace's root"
              : Ids.plural(skipped, "entry", "entries") + " with unmapped owners left as created")
          + " (of "
          + Ids.count(entries)
          + ")";
    }
  }

  /**
   * Turns a chown failure with {@code EINVAL} (an id the kernel cannot map, though this remapper
   * thought it could: the namespace changed, or the remapper was built for another one) into the
   * {@link UnmappedIdException} for the id, with the failure as its cause; returns any other
   * failure unchanged. {@code uid} and {@code gid} are the container ids from the tar header.
   */
  public IOException explainChownFailure(
      String layer, String entryPath, long uid, long gid, IOException failure) {
    if (!(failure instanceof NativeFailure) || !((NativeFailure) failure).is(Errno.EINVAL)) {
      return failure;
    }
    IdKind kind = !fits(IdKind.UID, uid) || fits(IdKind.GID, gid) ? IdKind.UID : IdKind.GID;
    UnmappedIdException e = unmapped(layer, entryPath, kind, kind == IdKind.UID ? uid : gid);
    e.initCause(failure);
    return e;
  }

  /** The error for container id {@code id} of {@code kind} on this entry. */
  public UnmappedIdException unmapped(String layer, String entryPath, IdKind kind, long id) {
    String who = kind.label() + " " + id;
    String head = "layer \"" + layer + "\": the entry \"" + entryPath + "\" is owned by " + who;
    String policies =
        "Or apply with --on-unmapped-id=squash (such entries are given to the namespace's root)"
            + " or --on-unmapped-id=skip (they keep the owner they were created with).";
    if (!Ids.valid(id)) {
      return new UnmappedIdException(
          layer,
          entryPath,
          kind,
          id,
          Reason.INVALID_ID,
          process.get(kind),
          List.of(),
          null,
          -1,
          -1,
          List.of(),
          head
              + ", which is not a valid id (ids are 0 to 4294967294), so no mapping can represent it.",
          "The layer is damaged or was made for another system. " + policies);
    }
    boolean remap = shift != null && shift.get(kind).hostIdOf(id) < 0;
    IdMapping mapping = remap ? shift.get(kind) : process.get(kind);
    List<RangeOrigin> origins =
        subIds != null
            ? subIds.explain(kind, mapping)
            : mapping.ranges().stream()
                .map(r -> new RangeOrigin(r, "", List.of()))
                .collect(Collectors.toList());
    String ranges = describe(mapping, origins, kind);
    StringBuilder problem = new StringBuilder(head);
    if (remap) {
      problem
          .append(", which dockerd's --userns-remap map does not cover: it maps ")
          .append(ranges)
          .append(". The entry has no host ")
          .append(kind.label())
          .append('.');
    } else {
      if (shift != null) {
        problem
            .append(", which --userns-remap turns into host ")
            .append(kind.label())
            .append(' ')
            .append(shift.get(kind).hostIdOf(id))
            .append(',');
      }
      problem
          .append(shift != null ? " which" : ", which")
          .append(" this user namespace does not map: ")
          .append(
              mapping.isEmpty() ? "it has no " + kind.procMapName() + " yet" : "it maps " + ranges)
          .append(". Changing the owner to ")
          .append(who)
          .append(" would fail with \"invalid argument\" (EINVAL).");
    }
    long needed = remap ? id + 1 : Math.max(id, 1);
    long held = subIds == null ? -1 : subIds.count(kind);
    List<RangeSuggestion> suggestions = new ArrayList<>();
    String remedy;
    String restart =
        remap
            ? "then restart dockerd"
            : "then restart layerd (or rootless dockerd) so that its namespace is made again with"
                + " the new ranges";
    if (subIds == null) {
      remedy =
          (remap
                  ? "Give the user named by dockerd's --userns-remap"
                  : "Give the user who owns this namespace")
              + " at least "
              + Ids.count(needed)
              + " subordinate "
              + kind.label()
              + "s in "
              + kind.defaultSubIdFile()
              + " (sudo usermod "
              + kind.usermodFlag()
              + " START-END USER), "
              + restart
              + ". "
              + policies;
    } else {
      String user = subIds.user().name();
      subIds.suggest(kind, needed).ifPresent(suggestions::add);
      IdKind other = kind == IdKind.UID ? IdKind.GID : IdKind.UID;
      if (!suggestions.isEmpty()) {
        subIds.suggest(other, needed).ifPresent(suggestions::add);
        if (kind == IdKind.GID) {
          suggestions.sort((a, b) -> a.kind().compareTo(b.kind()));
        }
      }
      List<SubIdRange> lines = subIds.ranges(kind);
      String holds =
          lines.isEmpty()
              ? user + " has none in " + subIds.file(kind).path()
              : user
                  + " has "
                  + Ids.count(held)
                  + " ("
                  + lines.stream().map(SubIdRange::where).collect(Collectors.joining(", "))
                  + ")";
      if (!suggestions.isEmpty()) {
        remedy =
            "To map "
                + who
                + (remap ? " dockerd's remap user needs" : " the rootless layout needs")
                + " at least "
                + Ids.count(needed)
                + " subordinate "
                + kind.label()
                + "s; "
                + holds
                + ". Run `"
                + RangeSuggestion.usermodCommand(suggestions, user)
                + "`, "
                + restart
                + ". "
                + policies;
      } else if (!remap) {
        remedy =
            user
                + " has "
                + Ids.count(held)
                + " subordinate "
                + kind.label()
                + "s in "
                + subIds.file(kind).path()
                + ", enough for "
                + who
                + " in the rootless layout, but this namespace maps fewer: it was made without all"
                + " of them (util-linux `unshare --map-root-user --map-auto` maps only the first"
                + " range, less one id). Restart layerd so that it enters its own namespace, or run"
                + " it under rootlesskit. "
                + policies;
      } else {
        remedy =
            user
                + " has "
                + Ids.count(held)
                + " subordinate "
                + kind.label()
                + "s, enough for "
                + who
                + ", but dockerd's remap map is smaller: restart dockerd so that it reads "
                + subIds.file(kind).path()
                + " again. "
                + policies;
      }
    }
    return new UnmappedIdException(
        layer,
        entryPath,
        kind,
        id,
        remap ? Reason.DOCKER_REMAP : Reason.NAMESPACE,
        mapping,
        origins,
        subIds == null ? null : subIds.user().name(),
        held,
        needed,
        suggestions,
        problem.toString(),
        remedy);
  }

  /** "uids 0-65536 (65,537 ids): 0 -> host 1001 (...); 1-65536 -> host 100000-165535 from ...". */
  private static String describe(IdMapping mapping, List<RangeOrigin> origins, IdKind kind) {
    return kind.label()
        + "s "
        + mapping.describeContainerIds()
        + ": "
        + origins.stream().map(o -> o.toString().strip()).collect(Collectors.joining("; "));
  }
}
