package io.layerd.idmap.internal;

/** The outcome of one {@link Doctor} check. */
public enum CheckStatus {
  /** The prerequisite is met. */
  PASS,
  /** It works, but not as well as it should (fewer than 65,536 ids, no XDG_RUNTIME_DIR, ...). */
  WARN,
  /** Rootless operation cannot work until the remedy is applied. */
  FAIL
}
