package io.layerd.cli;

/** What child JVMs of {@link RealDataTest} run (as the test user, in a user namespace). */
final class RealDataScenarios {
  private RealDataScenarios() {}

  /**
   * Runs {@code layerctl ARGS...} in this JVM; prints its output on stdout; fails with its standard
   * error when it exits other than 0.
   */
  static void layerctl(String[] args) {
    Cli.Run r = Cli.run(args);
    System.out.print(r.out());
    if (r.code() != 0) {
      throw new AssertionError("layerctl exited " + r.code() + ": " + r.err().strip());
    }
  }
}
