package io.layerd.idmap.internal;

import java.io.IOException;
import java.util.List;

/**
 * A user namespace was required ({@code --rootless=true}) but cannot be entered. The message names
 * each missing prerequisite with its remedy, as {@link Doctor} found them.
 */
public final class RootlessException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient List<DoctorCheck> failures;

  public RootlessException(String message, List<DoctorCheck> failures) {
    super(message);
    this.failures = List.copyOf(failures);
  }

  public RootlessException(String message, Throwable cause) {
    super(message, cause);
    this.failures = List.of();
  }

  /** The failed prerequisites (empty when entering failed for another reason). */
  public List<DoctorCheck> failures() {
    return failures;
  }
}
