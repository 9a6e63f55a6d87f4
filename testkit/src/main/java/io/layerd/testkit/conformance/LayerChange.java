package io.layerd.testkit.conformance;

import java.util.Objects;

/**
 * One path a layer changes against its parent, as Docker's Changes reports it: an absolute path
 * ("/etc/passwd") and a kind with Docker's wire numbers.
 */
public record LayerChange(String path, int kind) {
  /** The path's attributes or content changed. */
  public static final int MODIFIED = 0;

  /** The path is new. */
  public static final int ADDED = 1;

  /** The path is gone (only the top of a deleted subtree is listed). */
  public static final int DELETED = 2;

  /** Validates. */
  public LayerChange {
    Objects.requireNonNull(path, "path");
    if (kind < MODIFIED || kind > DELETED) {
      throw new IllegalArgumentException("not a change kind: " + kind);
    }
  }

  /** A modified path. */
  public static LayerChange modified(String path) {
    return new LayerChange(path, MODIFIED);
  }

  /** An added path. */
  public static LayerChange added(String path) {
    return new LayerChange(path, ADDED);
  }

  /** A deleted path. */
  public static LayerChange deleted(String path) {
    return new LayerChange(path, DELETED);
  }

  @Override
  public String toString() {
    return "MAD".charAt(kind) + " " + path;
  }
}
