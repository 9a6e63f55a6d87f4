package io.layerd.idmap;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The uid mapping and the gid mapping of one namespace (or of one Docker {@code --userns-remap}
 * configuration).
 *
 * @param uids the uid mapping
 * @param gids the gid mapping
 */
public record IdMappings(IdMapping uids, IdMapping gids) {

  public IdMappings {
    Objects.requireNonNull(uids, "uids");
    Objects.requireNonNull(gids, "gids");
  }

  /** The mapping for {@code kind}. */
  public IdMapping get(IdKind kind) {
    return kind == IdKind.UID ? uids : gids;
  }

  /** This process's mappings, from {@code /proc/self/uid_map} and {@code /proc/self/gid_map}. */
  public static IdMappings current() throws IOException {
    return new IdMappings(IdMapping.current(IdKind.UID), IdMapping.current(IdKind.GID));
  }

  /** Every id to itself (the initial namespace; Docker without remapping). */
  public static IdMappings identity() {
    return new IdMappings(IdMapping.identity(), IdMapping.identity());
  }

  /** Docker's {@code UIDMaps} and {@code GIDMaps}; see {@link IdMapping#fromDocker}. */
  public static IdMappings fromDocker(
      List<? extends Map<String, ?>> uidMaps, List<? extends Map<String, ?>> gidMaps) {
    return new IdMappings(IdMapping.fromDocker(uidMaps), IdMapping.fromDocker(gidMaps));
  }

  /** True when both are the identity. */
  public boolean isIdentity() {
    return uids.isIdentity() && gids.isIdentity();
  }
}
