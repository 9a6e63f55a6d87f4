package io.layerd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A dockerd that a suite started, and the docker CLI that talks to it (as root, or as the test user
 * for a rootless one). Commands run with a time limit; their output is captured in files.
 */
abstract class DockerHost implements AutoCloseable {
  static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(3);

  /** What one command left. */
  record Run(List<String> command, int exit, String stdout, String stderr) {
    Run ok() {
      if (exit != 0) {
        throw new AssertionError(describe());
      }
      return this;
    }

    String describe() {
      return String.join(" ", command)
          + " -> exit "
          + exit
          + (stderr.isBlank() ? "" : "\n  stderr: " + stderr.strip())
          + (stdout.isBlank() ? "" : "\n  stdout: " + stdout.strip());
    }
  }

  /** The docker CLI: /usr/bin/docker (Debian's 20.10, the daemon's own version) when present. */
  static String dockerBinary() {
    return Files.isExecutable(Path.of("/usr/bin/docker")) ? "/usr/bin/docker" : "docker";
  }

  /** The command prefix that runs the docker CLI against this dockerd. */
  abstract List<String> cli();

  /** A directory the CLI's user can read (files for {@code docker cp} and {@code load}). */
  abstract Path inputs();

  /** The tail of the daemons' logs, for failure messages. */
  abstract String logs();

  /** What the suite is called in messages ("rootful overlay2 through layerd"). */
  abstract String describe();

  /** Runs {@code docker ARGS}, capturing its output. */
  Run docker(String... args) throws IOException {
    return dockerTo(null, args);
  }

  /** Runs {@code docker ARGS} with its standard output going to {@code stdout} (when not null). */
  Run dockerTo(Path stdout, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(cli());
    cmd.addAll(Arrays.asList(args));
    Run r = exec(cmd, stdout, COMMAND_TIMEOUT);
    return new Run(List.of("docker", String.join(" ", args)), r.exit(), r.stdout(), r.stderr());
  }

  /** Runs a command, its output in temporary files; killed (with its children) on time-out. */
  static Run exec(List<String> cmd, Path stdout, Duration timeout) throws IOException {
    return exec(cmd, stdout, timeout, java.util.Map.of());
  }

  /** {@link #exec(List, Path, Duration)} with {@code env} added to this JVM's environment. */
  static Run exec(
      List<String> cmd, Path stdout, Duration timeout, java.util.Map<String, String> env)
      throws IOException {
    Path out = stdout != null ? stdout : Files.createTempFile("layerd-e2e-", ".out");
    Path err = Files.createTempFile("layerd-e2e-", ".err");
    try {
      // From /: a command run as the test user may not be able to enter this JVM's directory.
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(new java.io.File("/"));
      pb.environment().putAll(env);
      pb.redirectOutput(out.toFile()).redirectError(err.toFile());
      pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      Process p = pb.start();
      int code;
      try {
        if (p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          code = p.exitValue();
        } else {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor(10, TimeUnit.SECONDS);
          code = -1;
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted: " + cmd, e);
      }
      String o = stdout != null ? "" : Files.readString(out, StandardCharsets.UTF_8);
      String e = Files.readString(err, StandardCharsets.UTF_8);
      if (code == -1) {
        e += "\n[killed after " + timeout + "]";
      }
      return new Run(cmd, code, o, e);
    } finally {
      if (stdout == null) {
        Files.deleteIfExists(out);
      }
      Files.deleteIfExists(err);
    }
  }

  /** Waits until {@code docker version} answers. */
  void awaitReady(Process daemon, Duration limit) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    Run last = null;
    while (System.nanoTime() < deadline) {
      if (!daemon.isAlive()) {
        throw new IOException(
            describe() + ": dockerd exited (" + daemon.exitValue() + ")\n" + logs());
      }
      last = docker("version", "--format", "{{.Server.Version}}");
      if (last.exit() == 0) {
        return;
      }
      Thread.sleep(200);
    }
    throw new IOException(
        describe()
            + ": dockerd did not answer within "
            + limit
            + ": "
            + last.describe()
            + "\n"
            + logs());
  }

  /** The last lines of a log file. */
  static String tail(Path log, int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return "--- "
          + log
          + " ---\n"
          + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "--- " + log + ": " + e + " ---";
    }
  }

  @Override
  public abstract void close() throws IOException;

  /** SIGTERM, then SIGKILL to the process and everything it started when it does not stop. */
  static void stop(Process p, Duration grace) {
    if (p == null) {
      return;
    }
    List<ProcessHandle> children = p.descendants().toList();
    p.destroy();
    try {
      if (!p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ProcessHandle c : children) {
      if (c.isAlive()) {
        c.destroyForcibly();
      }
    }
  }
}
