package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import java.util.List;
import java.util.Objects;

/**
 * Where one range of a mapping comes from: the user's own id, lines of {@code /etc/subuid} or
 * {@code /etc/subgid}, or nothing known.
 *
 * @param range the range of the mapping
 * @param description a short phrase: "your own uid 1001", "/etc/subuid:1
 *     (layerd-test:100000:65536)", ...
 * @param lines the subordinate lines whose host ids the range uses (empty when none)
 */
public record RangeOrigin(IdRange range, String description, List<SubIdRange> lines) {
  public RangeOrigin {
    Objects.requireNonNull(range, "range");
    Objects.requireNonNull(description, "description");
    lines = List.copyOf(lines);
  }

  /** "1-65536 -> host 100000-165535 from /etc/subuid:1 (layerd-test:100000:65536)". */
  @Override
  public String toString() {
    return Ids.span(range.containerId(), range.size())
        + " -> host "
        + Ids.span(range.hostId(), range.size())
        + " "
        + description;
  }
}
