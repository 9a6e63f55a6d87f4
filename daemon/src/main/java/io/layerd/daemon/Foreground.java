package io.layerd.daemon;

import java.io.IOException;

/**
 * A child that stands for this command (rootlesskit, a script): its standard streams are this
 * process's, SIGTERM or SIGINT to this JVM is passed on to it as SIGTERM and waited for, and its
 * exit status becomes this command's.
 */
final class Foreground {
  private Foreground() {}

  /** Starts {@code pb} with this process's standard streams and waits for it; its exit status. */
  static int run(ProcessBuilder pb, String name) throws IOException, InterruptedException {
    Process p = pb.inheritIO().start();
    Thread forward =
        new Thread(
            () -> {
              p.destroy(); // SIGTERM: the child stops what it started, in order
              try {
                p.waitFor();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            name + "-stop");
    Runtime.getRuntime().addShutdownHook(forward);
    int status = p.waitFor();
    try {
      Runtime.getRuntime().removeShutdownHook(forward);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs anyway
    }
    return status;
  }
}
