package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A subordinate range to add so that a user has enough ids: free in the file (no other line uses
 * it), a whole number of 65,536-id blocks, right after the user's last range where that is free.
 *
 * @param kind uids or gids
 * @param start the first id to add
 * @param count how many
 */
public record RangeSuggestion(IdKind kind, long start, long count) {

  public RangeSuggestion {
    Objects.requireNonNull(kind, "kind");
    if (start < 0 || count < 1 || start + count > Ids.LIMIT) {
      throw new IllegalArgumentException("invalid suggested range " + start + " " + count);
    }
  }

  public long last() {
    return start + count - 1;
  }

  /** {@code --add-subuids 231072-296607}. */
  public String usermodArgument() {
    return kind.usermodFlag() + " " + start + "-" + last();
  }

  /** The line to append instead: {@code testuser:231072:65536}. */
  public String fileLine(String owner) {
    return owner + ":" + start + ":" + count;
  }

  /**
   * {@code sudo usermod --add-subuids A-B --add-subgids C-D USER}: one command for all the
   * suggestions (usermod takes both options together).
   */
  public static String usermodCommand(List<RangeSuggestion> suggestions, String user) {
    return "sudo usermod "
        + suggestions.stream()
            .map(RangeSuggestion::usermodArgument)
            .collect(Collectors.joining(" "))
        + " "
        + user;
  }
}
