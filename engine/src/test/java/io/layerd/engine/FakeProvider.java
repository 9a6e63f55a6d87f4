package io.layerd.engine;

import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Probe;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** A driver provider whose probe answers as told, and counts how often it was asked. */
final class FakeProvider implements DriverProvider {
  private final String name;
  private final int priority;
  private final DriverRefusal.Kind refusal;
  private final Exception failure;
  final AtomicInteger probes = new AtomicInteger();

  /** What this driver says its probe depends on (a helper binary, say). */
  volatile List<String> inputs = List.of();

  private FakeProvider(String name, int priority, DriverRefusal.Kind refusal, Exception failure) {
    this.name = name;
    this.priority = priority;
    this.refusal = refusal;
    this.failure = failure;
  }

  static FakeProvider usable(String name, int priority) {
    return new FakeProvider(name, priority, null, null);
  }

  static FakeProvider refusing(String name, int priority, DriverRefusal.Kind kind) {
    return new FakeProvider(name, priority, kind, null);
  }

  /** A probe that fails with something that is not a refusal. */
  static FakeProvider broken(String name, int priority, Exception failure) {
    return new FakeProvider(name, priority, null, failure);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<String> probeInputs(DriverContext context) {
    return inputs;
  }

  @Override
  public int priority() {
    return priority;
  }

  @Override
  public Probe probe(DriverContext context) throws DriverRefusal, IOException {
    probes.incrementAndGet();
    if (failure instanceof IOException) {
      throw (IOException) failure;
    }
    if (failure instanceof RuntimeException) {
      throw (RuntimeException) failure;
    }
    if (refusal != null) {
      throw new DriverRefusal(name, refusal, name + " cannot, for a test");
    }
    return Probe.of(name + " works (fake)", "kernel " + context.host().kernel());
  }

  @Override
  public Driver open(DriverContext context) throws IOException {
    throw new IOException("fake drivers do not open");
  }
}
