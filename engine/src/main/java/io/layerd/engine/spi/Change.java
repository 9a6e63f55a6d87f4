package io.layerd.engine.spi;

import java.util.Objects;

/**
 * One path a layer changes against its parent, as Docker's Changes reports it: {@code path} is
 * absolute in the layer ("/etc/passwd"), as bytes rendered for display elsewhere.
 */
public record Change(byte[] path, Kind kind) {
  /** Docker's change kinds, with their wire numbers. */
  public enum Kind {
    MODIFIED(0),
    ADDED(1),
    DELETED(2);

    private final int wire;

    Kind(int wire) {
      this.wire = wire;
    }

    public int wire() {
      return wire;
    }
  }

  public Change {
    Objects.requireNonNull(path);
    Objects.requireNonNull(kind);
  }

  public String displayPath() {
    return io.layerd.sys.Names.display(path);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Change c && java.util.Arrays.equals(path, c.path) && kind == c.kind;
  }

  @Override
  public int hashCode() {
    return java.util.Arrays.hashCode(path) * 31 + kind.hashCode();
  }

  @Override
  public String toString() {
    return kind + " " + displayPath();
  }
}
