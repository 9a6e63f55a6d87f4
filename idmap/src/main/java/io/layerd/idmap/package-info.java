/**
 * User and group id mappings for rootless operation: subordinate ids ({@code /etc/subuid}, {@code
 * /etc/subgid}), the mapping of a user namespace ({@code /proc/self/uid_map}), Docker's {@code
 * UIDMaps}/{@code GIDMaps}, and what a layer applier does with an owner that the mapping cannot
 * represent.
 *
 * <h2>Vocabulary</h2>
 *
 * <ul>
 *   <li>A <em>container id</em> is an id as written in a layer's tar headers and as seen inside a
 *       user namespace (the first column of {@code /proc/self/uid_map}).
 *   <li>A <em>host id</em> is the id the same owner has in the parent namespace (the second
 *       column), which is what {@code ls -n} shows on the host.
 *   <li>A <em>subordinate range</em> is one line of {@code /etc/subuid} or {@code /etc/subgid}:
 *       host ids that {@code newuidmap}/{@code newgidmap} let an unprivileged user map.
 *   <li>The <em>rootless layout</em> is how rootlesskit and layerd build a namespace from them:
 *       container 0 is the user's own id, container ids 1, 2, ... are the subordinate ranges in
 *       file order.
 * </ul>
 *
 * <h2>The API</h2>
 *
 * <p>This package is the module's API. {@link io.layerd.idmap.SubIdFile} parses the files as shadow
 * does and {@link io.layerd.idmap.SubordinateIds} holds one user's share of them ({@link
 * io.layerd.idmap.UserAccount}, {@link io.layerd.idmap.SubIdRange}, {@link
 * io.layerd.idmap.Problems}); {@link io.layerd.idmap.IdMapping} is an immutable two-way mapping of
 * {@link io.layerd.idmap.IdRange}s, and {@link io.layerd.idmap.IdMappings} the uid and gid pair;
 * {@link io.layerd.idmap.IdRemapper} is what an applier asks, per tar entry, for the {@link
 * io.layerd.idmap.Owner} to pass to chown, raising {@link io.layerd.idmap.UnmappedIdException}
 * (which names the entry, the mapping, the subuid line it comes from ({@link
 * io.layerd.idmap.RangeOrigin}) and the {@code usermod} command that fixes it ({@link
 * io.layerd.idmap.RangeSuggestion})) or squashing or skipping as the {@link
 * io.layerd.idmap.UnmappedIdPolicy} says.
 *
 * <p>Entering the rootless namespace (re-running a program inside a user and mount namespace) and
 * the doctor that checks every rootless prerequisite live in {@code io.layerd.idmap.internal},
 * which the module does not export: they serve layerd's own daemon and CLI.
 *
 * <p>Only the {@code sys} module calls native code; this module uses {@link io.layerd.sys.Sys} for
 * the process's ids and runs {@code unshare}, {@code newuidmap} and {@code newgidmap} as processes.
 */
package io.layerd.idmap;
