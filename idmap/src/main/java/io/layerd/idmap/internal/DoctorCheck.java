package io.layerd.idmap.internal;

import java.util.Objects;

/**
 * One rootless prerequisite as {@link Doctor} found it.
 *
 * @param name a stable identifier: {@code subuid}, {@code newuidmap}, {@code max_user_namespaces},
 *     ...
 * @param status pass, warn or fail
 * @param detail what was found, in one sentence
 * @param remedy what to do about it (empty on pass), as the Docker rootless documentation says it
 */
public record DoctorCheck(String name, CheckStatus status, String detail, String remedy) {
  public DoctorCheck {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(detail, "detail");
    remedy = remedy == null ? "" : remedy;
  }

  static DoctorCheck pass(String name, String detail) {
    return new DoctorCheck(name, CheckStatus.PASS, detail, "");
  }

  static DoctorCheck warn(String name, String detail, String remedy) {
    return new DoctorCheck(name, CheckStatus.WARN, detail, remedy);
  }

  static DoctorCheck fail(String name, String detail, String remedy) {
    return new DoctorCheck(name, CheckStatus.FAIL, detail, remedy);
  }

  @Override
  public String toString() {
    return status + " " + name + ": " + detail + (remedy.isEmpty() ? "" : " Remedy: " + remedy);
  }
}
