package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One line of {@code /etc/subuid} or {@code /etc/subgid}: the host ids {@code start} to {@code
 * start + count - 1} that {@code owner} may map into a user namespace.
 *
 * @param owner the owner as written: a user name or a numeric uid (shadow accepts both)
 * @param start the first host id
 * @param count how many ids, at least 1
 * @param source the file the line comes from, or null for a range built in code
 * @param line the 1-based line number in {@code source}, or 0
 */
public record SubIdRange(String owner, long start, long count, Path source, int line) {

  public SubIdRange {
    Objects.requireNonNull(owner, "owner");
    if (start < 0 || count < 1 || start + count > Ids.LIMIT) {
      throw new IllegalArgumentException(
          "subordinate range "
              + owner
              + ":"
              + start
              + ":"
              + count
              + " is not within 0-"
              + Ids.MAX_ID);
    }
  }

  /** A range not read from a file. */
  public static SubIdRange of(String owner, long start, long count) {
    return new SubIdRange(owner, start, count, null, 0);
  }

  /** The last id of the range. */
  public long last() {
    return start + count - 1;
  }

  /** The first id after the range. */
  public long end() {
    return start + count;
  }

  public boolean contains(long id) {
    return id >= start && id < end();
  }

  /** True when the two ranges share at least one id. */
  public boolean overlaps(long otherStart, long otherCount) {
    return otherStart < end() && start < otherStart + otherCount;
  }

  /** True when this range belongs to the user named {@code name} with uid {@code uid}. */
  public boolean ownedBy(String name, long uid) {
    return owner.equals(name) || owner.equals(Long.toString(uid));
  }

  /** Where the range was read: {@code /etc/subuid:3}, or "(built in code)". */
  public String where() {
    return source == null ? "(built in code)" : source + ":" + line;
  }

  /** The line as shadow writes it: {@code owner:start:count}. */
  public String entry() {
    return owner + ":" + start + ":" + count;
  }

  @Override
  public String toString() {
    return entry() + " (" + where() + ")";
  }
}
