package io.layerd.idmap;

import java.util.Locale;

/**
 * What an applier does with a tar entry whose owner the id mapping cannot represent ({@code
 * --on-unmapped-id=fail|squash|skip}).
 */
public enum UnmappedIdPolicy {
  /** Stop with an {@link UnmappedIdException} (the default). */
  FAIL,
  /** Give the entry to the namespace's root (container id 0), and count it. */
  SQUASH,
  /** Leave the owner the entry was created with (the applier's own ids), and count it. */
  SKIP;

  /** The command-line spelling: "fail", "squash" or "skip". */
  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses "fail", "squash" or "skip" (any case). */
  public static UnmappedIdPolicy parse(String s) {
    for (UnmappedIdPolicy p : values()) {
      if (p.name().equalsIgnoreCase(s.strip())) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown policy \"" + s + "\" for unmapped ids: expected fail, squash or skip");
  }
}
