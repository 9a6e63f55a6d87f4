package io.layerd.cli;

/** A failure a command reports with its own exit status. */
public class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  public CliException(String message, int exitCode) {
    super(message);
    this.exitCode = exitCode;
  }

  public int exitCode() {
    return exitCode;
  }
}
