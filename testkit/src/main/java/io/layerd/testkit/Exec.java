package io.layerd.testkit;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a short external command with a time limit, output captured through temporary files (no pipe
 * can fill up and block the child). Package-private: the helpers of this package use it.
 */
final class Exec {
  private Exec() {}

  /** The exit code reported for a command that was killed on time-out. */
  static final int TIMED_OUT = -1;

  /** What a finished (or killed) command left behind. */
  record Outcome(int exitCode, String stdout, String stderr) {
    boolean ok() {
      return exitCode == 0;
    }

    /** A one-line summary for error messages. */
    String describe(List<String> command) {
      return String.join(" ", command)
          + " -> "
          + (exitCode == TIMED_OUT ? "timed out" : "exit " + exitCode)
          + (stderr.isBlank() ? "" : ": " + stderr.strip())
          + (stdout.isBlank() || !stderr.isBlank() ? "" : ": " + stdout.strip());
    }
  }

  /** Runs a command in the current environment. */
  static Outcome run(List<String> command, Duration timeout) throws IOException {
    return run(new ProcessBuilder(command), timeout);
  }

  /**
   * Runs a prepared process (its command, environment and directory already set; its output
   * redirections are replaced). On time-out the process and all its descendants are killed and the
   * exit code is {@link #TIMED_OUT}.
   */
  static Outcome run(ProcessBuilder pb, Duration timeout) throws IOException {
    Path out = Files.createTempFile("layerd-exec-", ".out");
    Path err = Files.createTempFile("layerd-exec-", ".err");
    try {
      pb.redirectOutput(out.toFile()).redirectError(err.toFile());
      pb.redirectInput(ProcessBuilder.Redirect.PIPE);
      Process p = pb.start();
      p.getOutputStream().close(); // the child sees end-of-file on its standard input
      int code;
      try {
        if (p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          code = p.exitValue();
        } else {
          killTree(p);
          code = TIMED_OUT;
        }
      } catch (InterruptedException e) {
        killTree(p);
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for " + pb.command());
      }
      String stderr = Files.readString(err, StandardCharsets.UTF_8);
      if (code == TIMED_OUT) {
        stderr += "\n[killed after " + timeout + "]";
      }
      return new Outcome(code, Files.readString(out, StandardCharsets.UTF_8), stderr);
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** Kills a process and everything it started, then waits for it to be gone. */
  static void killTree(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    try {
      p.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A minimal, explicit environment: the usual PATH and a UTF-8 locale. */
  static void baseEnvironment(Map<String, String> env) {
    String path = System.getenv("PATH");
    env.clear();
    env.put(
        "PATH",
        path == null || path.isBlank()
            ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            : path);
    env.put("LC_ALL", "C.UTF-8");
    env.put("LANG", "C.UTF-8");
  }
}
