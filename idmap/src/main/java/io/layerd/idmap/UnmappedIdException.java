package io.layerd.idmap;

import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A layer entry is owned by a uid or gid that the id mapping cannot represent: what rootless Docker
 * reports as {@code lchown <FILE>: invalid argument}. Raised by {@link IdRemapper} under {@link
 * UnmappedIdPolicy#FAIL} before chown is tried.
 *
 * <p>The message is one paragraph that names the layer and the entry, the id, the mapping in force
 * (its ranges, sizes and the {@code /etc/subuid} line each comes from), how many subordinate ids
 * the user has and would need, and the remedy: the {@code usermod} command that adds a free range
 * large enough (computed from the real files), then a restart, or the squash/skip policies.
 */
public final class UnmappedIdException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Which mapping refused the id. */
  public enum Reason {
    /** The id is not an unsigned 32-bit id at all (4294967295 and above, or negative). */
    INVALID_ID,
    /** The process's user namespace does not map it (rootless: too few subordinate ids). */
    NAMESPACE,
    /** Docker's {@code --userns-remap} map ({@code UIDMaps}/{@code GIDMaps}) does not cover it. */
    DOCKER_REMAP
  }

  private final String layer;
  private final String entryPath;
  private final IdKind kind;
  private final long id;
  private final Reason reason;
  private final transient IdMapping mapping;
  private final transient List<RangeOrigin> origins;
  private final String user;
  private final long idsHeld;
  private final long idsNeeded;
  private final transient List<RangeSuggestion> suggestions;
  private final String remedy;

  UnmappedIdException(
      String layer,
      String entryPath,
      IdKind kind,
      long id,
      Reason reason,
      IdMapping mapping,
      List<RangeOrigin> origins,
      String user,
      long idsHeld,
      long idsNeeded,
      List<RangeSuggestion> suggestions,
      String problem,
      String remedy) {
    super(problem + " " + remedy);
    this.layer = Objects.requireNonNull(layer, "layer");
    this.entryPath = Objects.requireNonNull(entryPath, "entryPath");
    this.kind = kind;
    this.id = id;
    this.reason = reason;
    this.mapping = mapping;
    this.origins = List.copyOf(origins);
    this.user = user;
    this.idsHeld = idsHeld;
    this.idsNeeded = idsNeeded;
    this.suggestions = List.copyOf(suggestions);
    this.remedy = remedy;
  }

  /** The layer being applied, as the applier named it (digest, file name, ...). */
  public String layer() {
    return layer;
  }

  /** The entry's path inside the layer. */
  public String entryPath() {
    return entryPath;
  }

  /** Whether the uid or the gid is unmapped. */
  public IdKind kind() {
    return kind;
  }

  /** The id from the tar header. */
  public long id() {
    return id;
  }

  /** Which mapping refused the id. */
  public Reason reason() {
    return reason;
  }

  /** The mapping that refused the id (the namespace's, or Docker's remap map). */
  public IdMapping mapping() {
    return mapping;
  }

  /** Each range of {@link #mapping()} with where it comes from (file and line). */
  public List<RangeOrigin> origins() {
    return origins;
  }

  /** The subordinate lines the mapping's ranges come from. */
  public List<SubIdRange> sourceRanges() {
    return origins.stream().flatMap(o -> o.lines().stream()).collect(Collectors.toList());
  }

  /** The user whose subordinate ids make the mapping, when known. */
  public Optional<String> user() {
    return Optional.ofNullable(user);
  }

  /** How many subordinate ids of {@link #kind()} the user has, or -1 when unknown. */
  public long idsHeld() {
    return idsHeld;
  }

  /** How many subordinate ids of {@link #kind()} would let {@link #id()} fit, or -1. */
  public long idsNeeded() {
    return idsNeeded;
  }

  /** The ranges the remedy adds (empty when adding ids is not the fix). */
  public List<RangeSuggestion> suggestions() {
    return suggestions;
  }

  /** The fix, in sentences: the command to run and what to restart, or the other policies. */
  public String remedy() {
    return remedy;
  }
}
