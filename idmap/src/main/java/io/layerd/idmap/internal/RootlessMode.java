package io.layerd.idmap.internal;

import java.util.Locale;

/** {@code --rootless=auto|true|false}: whether to enter a rootless user namespace. */
public enum RootlessMode {
  /** Enter one when started by a non-root user outside a user namespace, if that is possible. */
  AUTO,
  /** Always run inside a user namespace; fail with the remedy when one cannot be entered. */
  TRUE,
  /** Never re-execute; run in the namespace the program was started in. */
  FALSE;

  /** "auto", "true" or "false". */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses auto/true/false (any case; also yes/no, on/off, 1/0). */
  public static RootlessMode parse(String s) {
    switch (s.strip().toLowerCase(Locale.ROOT)) {
      case "auto":
        return AUTO;
      case "true":
      case "yes":
      case "on":
      case "1":
        return TRUE;
      case "false":
      case "no":
      case "off":
      case "0":
        return FALSE;
      default:
        throw new IllegalArgumentException(
            "unknown rootless mode \"" + s + "\": expected auto, true or false");
    }
  }
}
