package io.layerd.idmap.internal;

import io.layerd.idmap.UserAccount;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Every check {@link Doctor} ran, in order.
 *
 * @param user the user checked
 * @param checks the checks
 */
public record DoctorReport(UserAccount user, List<DoctorCheck> checks) {
  public DoctorReport {
    Objects.requireNonNull(user, "user");
    checks = List.copyOf(checks);
  }

  /** True when no check failed (warnings allowed). */
  public boolean ok() {
    return checks.stream().noneMatch(c -> c.status() == CheckStatus.FAIL);
  }

  /** The failed checks. */
  public List<DoctorCheck> failures() {
    return checks.stream().filter(c -> c.status() == CheckStatus.FAIL).collect(Collectors.toList());
  }

  /** The check with this name. */
  public Optional<DoctorCheck> check(String name) {
    return checks.stream().filter(c -> c.name().equals(name)).findFirst();
  }

  /** One block a check: "FAIL subuid detail", then " remedy: ..." when there is one. */
  public String toText() {
    int width = checks.stream().mapToInt(c -> c.name().length()).max().orElse(0);
    StringBuilder b = new StringBuilder();
    for (DoctorCheck c : checks) {
      b.append(String.format("%-4s  %-" + width + "s  %s%n", c.status(), c.name(), c.detail()));
      if (!c.remedy().isEmpty()) {
        b.append(" ".repeat(8 + width)).append("remedy: ").append(c.remedy()).append('\n');
      }
    }
    long failed = failures().size();
    long warned = checks.stream().filter(c -> c.status() == CheckStatus.WARN).count();
    b.append(
        ok()
            ? "Rootless prerequisites are met"
                + (warned > 0 ? " (" + Ids.plural(warned, "warning", "warnings") + ")" : "")
                + ".\n"
            : Ids.plural(failed, "prerequisite is", "prerequisites are") + " missing.\n");
    return b.toString();
  }
}
