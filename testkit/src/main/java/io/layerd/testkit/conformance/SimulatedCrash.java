package io.layerd.testkit.conformance;

/**
 * Thrown by {@link CrashingInputStream} to stand for the death of the process in the middle of an
 * operation. An {@link Error}, so that code that cleans up after exceptions (IOException,
 * RuntimeException) does not run, as it would not in a killed process.
 */
public final class SimulatedCrash extends Error {
  private static final long serialVersionUID = 1L;

  /** A crash after {@code bytes} bytes of input. */
  public SimulatedCrash(long bytes) {
    super("simulated crash after " + bytes + " bytes of input");
  }
}
