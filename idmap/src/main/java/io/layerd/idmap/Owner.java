package io.layerd.idmap;

/**
 * The ids an applier passes to {@code fchownat}/{@code lchown} for one entry, as {@link IdRemapper}
 * decided them. {@link #KEEP} (-1) for either id means "leave it as it is", which is exactly what
 * chown(2) does with -1, so the values can be passed straight through.
 *
 * @param uid the uid to pass to chown, or {@link #KEEP}
 * @param gid the gid to pass to chown, or {@link #KEEP}
 * @param squashed true when an unmapped id was replaced by the namespace's root
 * @param skipped true when an unmapped id was left as it is
 */
public record Owner(long uid, long gid, boolean squashed, boolean skipped) {
  /** chown's "leave unchanged": {@code (uid_t) -1}. */
  public static final long KEEP = -1;

  /** True when there is something to chown (one of the ids is not {@link #KEEP}). */
  public boolean changesOwner() {
    return uid != KEEP || gid != KEEP;
  }
}
