package io.layerd.engine.spi;

import java.util.List;

/** A driver's positive probe verdict: the facts that make it usable, for humans. */
public record Probe(List<String> reasons) {
  public Probe {
    reasons = List.copyOf(reasons);
  }

  public static Probe of(String... reasons) {
    return new Probe(List.of(reasons));
  }
}
