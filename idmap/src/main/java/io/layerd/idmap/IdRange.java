package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;

/**
 * One line of a user namespace's id map: container ids {@code containerId} to {@code containerId +
 * size - 1} are host ids {@code hostId} to {@code hostId + size - 1}. Ids are unsigned 32-bit and
 * never 4294967295 ({@code (uid_t) -1}), so both ends stay within 0-4294967294 as the kernel
 * requires.
 *
 * @param containerId the first id inside the namespace (first column of {@code uid_map})
 * @param hostId the first id in the parent namespace (second column)
 * @param size how many ids (third column), at least 1
 */
public record IdRange(long containerId, long hostId, long size) {

  public IdRange {
    if (size < 1 || containerId < 0 || hostId < 0) {
      throw new IllegalArgumentException(
          "invalid id range " + containerId + " " + hostId + " " + size);
    }
    if (containerId + size > Ids.LIMIT || hostId + size > Ids.LIMIT) {
      throw new IllegalArgumentException(
          "id range " + containerId + " " + hostId + " " + size + " goes past 4294967294");
    }
  }

  /** The last container id of the range. */
  public long lastContainerId() {
    return containerId + size - 1;
  }

  /** The last host id of the range. */
  public long lastHostId() {
    return hostId + size - 1;
  }

  public boolean containsContainerId(long id) {
    return id >= containerId && id - containerId < size;
  }

  public boolean containsHostId(long id) {
    return id >= hostId && id - hostId < size;
  }

  /** The line as {@code /proc/self/uid_map} and {@code newuidmap} take it: "0 1000 1". */
  public String toMapLine() {
    return containerId + " " + hostId + " " + size;
  }

  /** "0-65535 -> 100000-165535". */
  @Override
  public String toString() {
    return Ids.span(containerId, size) + " -> " + Ids.span(hostId, size);
  }
}
