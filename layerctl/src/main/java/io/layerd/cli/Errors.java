package io.layerd.cli;

import picocli.CommandLine;

/**
 * Turns an exception from a command into one clear line on standard error and exit status 1 (or the
 * status a {@link CliException} names). Stack traces only with LAYERD_DEBUG=1.
 */
final class Errors implements CommandLine.IExecutionExceptionHandler {
  @Override
  public int handleExecutionException(
      Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
    if ("1".equals(System.getenv("LAYERD_DEBUG"))) {
      ex.printStackTrace(System.err);
    }
    String msg = ex.getMessage() == null ? ex.toString() : ex.getMessage();
    cl.getErr().println(cl.getCommandSpec().qualifiedName() + ": " + msg);
    cl.getErr().flush();
    return ex instanceof CliException ? ((CliException) ex).exitCode() : 1;
  }
}
