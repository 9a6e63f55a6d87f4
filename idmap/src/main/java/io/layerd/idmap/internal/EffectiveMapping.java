package io.layerd.idmap.internal;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRange;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UserAccount;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.util.Objects;
import java.util.Optional;

/**
 * The id mapping layerd will apply layers under, decided the way {@link RootlessNamespace} decides
 * whether to enter a namespace, without entering one: what {@code layerctl idmap show} prints and
 * what {@code layerctl check-ids} checks layers against.
 *
 * <ul>
 *   <li>Inside a user namespace: the namespace's own maps ({@code /proc/self/uid_map}).
 *   <li>Root in the initial namespace: every id.
 *   <li>A non-root user outside a namespace ({@code --rootless=auto|true}): the rootless layout of
 *       the user's subordinate ranges, which is what the re-exec sets up.
 *   <li>A non-root user with {@code --rootless=false}: only the user's own uid and gid.
 * </ul>
 *
 * @param source one phrase saying which of these it is
 * @param mappings the uid and gid mappings
 * @param subordinateIds the user's subordinate ids (for origins and remedies), or null as root
 * @param rootlessLayout true when the mapping is the rootless layout of {@code subordinateIds}, so
 *     that container id X needs X subordinate ids
 */
public record EffectiveMapping(
    String source, IdMappings mappings, SubordinateIds subordinateIds, boolean rootlessLayout) {

  public EffectiveMapping {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(mappings, "mappings");
  }

  /** The user's subordinate ids, when known. */
  public Optional<SubordinateIds> subIds() {
    return Optional.ofNullable(subordinateIds);
  }

  /** The mapping for this process under {@code mode}. */
  public static EffectiveMapping resolve(RootlessMode mode) throws IOException {
    IdMappings current = IdMappings.current();
    if (!current.uids().isIdentity()) {
      return new EffectiveMapping(
          "this user namespace (/proc/self/uid_map and gid_map)",
          current,
          SubordinateIds.load(UserAccount.current()),
          false);
    }
    if (Sys.geteuid() == 0) {
      return new EffectiveMapping(
          "root in the initial namespace: every id", IdMappings.identity(), null, false);
    }
    UserAccount user = UserAccount.current();
    SubordinateIds ids = SubordinateIds.load(user);
    if (mode == RootlessMode.FALSE) {
      IdMappings own =
          new IdMappings(
              IdMapping.of(new IdRange(user.uid(), user.uid(), 1)),
              IdMapping.of(new IdRange(user.gid(), user.gid(), 1)));
      return new EffectiveMapping(
          "no user namespace (--rootless=false): only your own uid and gid", own, ids, false);
    }
    return rootless(ids);
  }

  /** The rootless layout of one user's ranges (as root, to check for that user). */
  public static EffectiveMapping forUser(String userName) throws IOException {
    UserAccount user =
        UserAccount.byName(userName)
            .orElseThrow(() -> new IOException("no user named \"" + userName + "\""));
    return rootless(SubordinateIds.load(user));
  }

  /** The rootless layout of these subordinate ids. */
  public static EffectiveMapping rootless(SubordinateIds ids) throws IOException {
    try {
      return new EffectiveMapping(
          "the rootless layout layerd enters for "
              + ids.user().name()
              + " (its own ids, then every range of "
              + ids.file(IdKind.UID).path()
              + " and "
              + ids.file(IdKind.GID).path()
              + ")",
          ids.rootlessLayout(),
          ids,
          true);
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "the subordinate ranges of " + ids.user() + " cannot be mapped: " + e.getMessage(), e);
    }
  }
}
