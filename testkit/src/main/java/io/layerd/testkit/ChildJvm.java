package io.layerd.testkit;

import io.layerd.sys.Sys;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * Runs test code in a fresh JVM: as the same user ({@link Mode#ROOT}), as a real unprivileged user
 * ({@link Mode#USER}), or as that user inside a new user and mount namespace ({@link
 * Mode#USER_NAMESPACE}) — the way layerd runs "rootless". The child runs {@link ScenarioMain},
 * which calls a static method of a class on the test classpath:
 *
 * <pre>{@code
 * // in a test (needs root, to switch users):
 * ChildJvm.call(TestUser.standard(), Mode.USER_NAMESPACE, MyScenarios::chown, dir.toString())
 *     .assertSuccess();
 *
 * // in MyScenarios (runs in the child; any exception fails the call with its stack trace):
 * static void chown(String[] args) throws IOException { ... assertEquals(...); ... }
 * }</pre>
 *
 * <p>The child gets: the same {@code java} binary ({@code java.home}); a world-readable copy of the
 * test classpath (made once per JVM under {@code /tmp/layerd-testcp-*}, since the user cannot read
 * {@code /root/.m2} or the build's target directories); a clean environment with {@code HOME},
 * {@code USER}, {@code LOGNAME}, {@code PATH}, {@code LC_ALL=C.UTF-8}; {@code -Dfile.encoding=UTF-8
 * -Dsun.jnu.encoding=UTF-8}; every {@code layerd.*} system property of this JVM and {@code
 * layerd.requireAll} as {@link Require#requireAll()} says, so probes in the child behave as here;
 * the user's home as working directory. Users are switched with {@code setpriv --reuid --regid
 * --init-groups}; the namespace is made with {@code unshare --user --map-root-user --map-auto
 * --mount}, which maps uid and gid 0 to the user and 1.. to its subordinate range (uid_map {@code 0
 * UID 1}, {@code 1 SUBUID_START COUNT-1}). Each child is killed (with any process it started) when
 * it outlives its time limit ({@link #DEFAULT_TIMEOUT} unless set with {@link Launcher#timeout}).
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** Who runs the child, and where. */
  public enum Mode {
    /** The same user as this JVM (root, usually), no namespace. */
    ROOT,
    /** The test user, plainly: no namespace, no privileges. */
    USER,
    /** The test user inside {@code unshare --user --map-root-user --map-auto --mount}. */
    USER_NAMESPACE
  }

  /** How long a child may run unless told otherwise. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  /** The exit code of a {@link Result} whose child was killed on time-out. */
  public static final int TIMED_OUT = Exec.TIMED_OUT;

  /** What a child JVM left: its exit code ({@link ScenarioMain}'s) and output. */
  public record Result(int exitCode, String stdout, String stderr) {
    /** True when the scenario returned normally. */
    public boolean succeeded() {
      return exitCode == ScenarioMain.EXIT_OK;
    }

    /** True when the scenario aborted through a JUnit assumption (a {@link Require} skip). */
    public boolean aborted() {
      return exitCode == ScenarioMain.EXIT_ABORTED;
    }

    /** True when the child was killed for running too long. */
    public boolean timedOut() {
      return exitCode == TIMED_OUT;
    }

    /**
     * Returns this result when the scenario succeeded. When it aborted (a {@link Require} probe in
     * the child), the calling test is skipped with the same reason, or failed under {@link
     * Require#requireAll()}. Otherwise throws an AssertionError holding the exit code, the child's
     * stderr (with the stack trace of what it threw) and its stdout.
     */
    public Result assertSuccess() {
      if (succeeded()) {
        return this;
      }
      if (aborted()) {
        String first = stderr.lines().findFirst().orElse("");
        Require.that(
            false,
            "in the child JVM: " + first.replaceFirst("^" + ScenarioMain.ABORTED_PREFIX, ""));
      }
      throw new AssertionError(describe());
    }

    /** The exit code and both outputs, for messages. */
    public String describe() {
      String how =
          timedOut() ? "was killed on time-out" : "exited with " + exitCode + " (expected 0)";
      return "child JVM "
          + how
          + "\n--- child stderr ---\n"
          + stderr.strip()
          + (stdout.isBlank() ? "" : "\n--- child stdout ---\n" + stdout.strip())
          + "\n--- end of child output ---";
    }
  }

  /**
   * Runs {@code scenario(args)} (a static method reference) in a child JVM as {@code user} in
   * {@code mode} (the user may be null for {@link Mode#ROOT}), with the default time limit, and
   * waits for it.
   */
  public static Result call(TestUser user, Mode mode, Scenario scenario, String... args) {
    return launcher(user, mode).call(scenario, args);
  }

  /** {@link #call(TestUser, Mode, Scenario, String...)} for a scenario without arguments. */
  public static Result call(TestUser user, Mode mode, Scenario.NoArgs scenario) {
    return launcher(user, mode).call(scenario);
  }

  /** By name, for ScenarioMain's own checks of names that do not exist. */
  static Result call(TestUser user, Mode mode, Class<?> cls, String staticMethod, String... args) {
    return launcher(user, mode).call(cls.getName(), staticMethod, args);
  }

  /** A launcher for more options (time limit, environment, JVM options, directory). */
  public static Launcher launcher(TestUser user, Mode mode) {
    Objects.requireNonNull(mode, "mode");
    if (mode != Mode.ROOT) {
      Objects.requireNonNull(user, "a user is needed for mode " + mode);
    }
    return new Launcher(user, mode, DEFAULT_TIMEOUT, Map.of(), List.of(), null, 0);
  }

  /**
   * Starts child JVMs with one set of options. Immutable: each {@code with} method returns a new
   * launcher.
   */
  public static final class Launcher {
    private final TestUser user;
    private final Mode mode;
    private final Duration timeout;
    private final Map<String, String> env;
    private final List<String> jvmArgs;
    private final Path directory;
    private final int descriptorLimit;

    private Launcher(
        TestUser user,
        Mode mode,
        Duration timeout,
        Map<String, String> env,
        List<String> jvmArgs,
        Path directory,
        int descriptorLimit) {
      this.user = user;
      this.mode = mode;
      this.timeout = timeout;
      this.env = env;
      this.jvmArgs = jvmArgs;
      this.directory = directory;
      this.descriptorLimit = descriptorLimit;
    }

    /**
     * The child runs with RLIMIT_NOFILE lowered to {@code limit} (soft and hard, so that the JVM
     * cannot raise it), through util-linux's {@code prlimit}.
     */
    public Launcher descriptorLimit(int limit) {
      if (limit < 16) {
        throw new IllegalArgumentException("a JVM needs more than " + limit + " descriptors");
      }
      return new Launcher(user, mode, timeout, env, jvmArgs, directory, limit);
    }

    /** The child is killed when it runs longer than this. */
    public Launcher timeout(Duration limit) {
      if (limit.isNegative() || limit.isZero()) {
        throw new IllegalArgumentException("a time limit must be positive: " + limit);
      }
      return new Launcher(user, mode, limit, env, jvmArgs, directory, descriptorLimit);
    }

    /** Adds (or replaces) an environment variable of the child. */
    public Launcher env(String name, String value) {
      Map<String, String> m = new LinkedHashMap<>(env);
      m.put(name, value);
      return new Launcher(
          user, mode, timeout, Collections.unmodifiableMap(m), jvmArgs, directory, descriptorLimit);
    }

    /** Adds options for the child's JVM, e.g. {@code -Dkey=value} or {@code -Xmx1g}. */
    public Launcher jvmArgs(String... args) {
      List<String> l = new ArrayList<>(jvmArgs);
      l.addAll(List.of(args));
      return new Launcher(user, mode, timeout, env, List.copyOf(l), directory, descriptorLimit);
    }

    /** The child's working directory (default: the user's home; for ROOT this JVM's). */
    public Launcher workingDirectory(Path dir) {
      return new Launcher(user, mode, timeout, env, jvmArgs, dir, descriptorLimit);
    }

    /** The full command line that {@link #call} runs (for messages and debugging). */
    public List<String> command(Scenario scenario, String... args) {
      Scenario.Target t = Scenario.Target.of(scenario);
      return command(t.className(), t.methodName(), args);
    }

    private List<String> command(String cls, String staticMethod, String... args) {
      List<String> cmd = new ArrayList<>();
      boolean switchUser = mode != Mode.ROOT && Sys.geteuid() != user.uid();
      if (switchUser) {
        Require.root();
        cmd.add("setpriv");
        cmd.add("--reuid=" + user.uid());
        cmd.add("--regid=" + user.gid());
        cmd.add("--init-groups");
      }
      if (mode == Mode.USER_NAMESPACE) {
        cmd.addAll(List.of("unshare", "--user", "--map-root-user", "--map-auto", "--mount"));
      }
      if (descriptorLimit > 0) {
        cmd.add(Require.command("prlimit").toString());
        cmd.add("--nofile=" + descriptorLimit + ":" + descriptorLimit);
        cmd.add("--");
      }
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.addAll(
          List.of(
              "-Dfile.encoding=UTF-8",
              "-Dsun.jnu.encoding=UTF-8",
              "-Djava.io.tmpdir=/tmp",
              "-XX:+UseSerialGC",
              "-XX:TieredStopAtLevel=1",
              "-XX:-UsePerfData",
              "-Xshare:auto",
              "-Xss1m"));
      for (String key : System.getProperties().stringPropertyNames()) {
        if (key.startsWith("layerd.") && !key.equals(Require.REQUIRE_ALL_PROPERTY)) {
          cmd.add("-D" + key + "=" + System.getProperty(key));
        }
      }
      cmd.add("-D" + Require.REQUIRE_ALL_PROPERTY + "=" + Require.requireAll());
      cmd.add("-D" + CHILD_MODE_PROPERTY + "=" + mode);
      cmd.addAll(jvmArgs);
      cmd.add("-cp");
      cmd.add(Classpath.copy());
      cmd.add(ScenarioMain.class.getName());
      cmd.add(cls);
      cmd.add(staticMethod);
      cmd.addAll(List.of(args));
      return cmd;
    }

    /** Runs {@code scenario(args)} in a child JVM and waits for it (or its time limit). */
    public Result call(Scenario scenario, String... args) {
      Scenario.Target t = Scenario.Target.of(scenario);
      return call(t.className(), t.methodName(), args);
    }

    /** Runs a scenario without arguments in a child JVM and waits for it. */
    public Result call(Scenario.NoArgs scenario) {
      Scenario.Target t = Scenario.Target.of(scenario);
      return call(t.className(), t.methodName());
    }

    private Result call(String cls, String staticMethod, String... args) {
      List<String> cmd = command(cls, staticMethod, args);
      ProcessBuilder pb = new ProcessBuilder(cmd);
      Map<String, String> e = pb.environment();
      Exec.baseEnvironment(e);
      if (mode == Mode.ROOT) {
        String home = System.getProperty("user.home");
        e.put("HOME", home);
        e.put("USER", System.getProperty("user.name"));
        e.put("LOGNAME", System.getProperty("user.name"));
        pb.directory(directory == null ? null : directory.toFile());
      } else {
        e.put("HOME", user.home().toString());
        e.put("USER", user.name());
        e.put("LOGNAME", user.name());
        pb.directory((directory == null ? user.home() : directory).toFile());
      }
      e.put("TMPDIR", "/tmp");
      e.put(Require.REQUIRE_ALL_ENV, Boolean.toString(Require.requireAll()));
      e.putAll(env);
      try {
        Exec.Outcome o = Exec.run(pb, timeout);
        String stderr = o.stderr();
        if (o.exitCode() == TIMED_OUT || o.exitCode() > ScenarioMain.EXIT_USAGE) {
          // The child never reached (or never left) ScenarioMain: say how it was started.
          stderr += "\n[command: " + String.join(" ", cmd) + "]";
        }
        return new Result(o.exitCode(), o.stdout(), stderr);
      } catch (IOException ex) {
        throw new UncheckedIOException("could not start " + String.join(" ", cmd), ex);
      }
    }
  }

  /** The system property that tells a child JVM its {@link Mode} (by name). */
  public static final String CHILD_MODE_PROPERTY = "layerd.childJvm.mode";

  /**
   * The {@link Mode} this JVM was started in by {@link ChildJvm}, or null in a JVM that ChildJvm
   * did not start.
   */
  public static Mode currentMode() {
    String m = System.getProperty(CHILD_MODE_PROPERTY);
    return m == null ? null : Mode.valueOf(m);
  }

  /**
   * The world-readable copy of this JVM's classpath that children use (made on first use), as a
   * classpath string.
   */
  public static String classpathCopy() {
    return Classpath.copy();
  }

  /** The world-readable classpath copy, made once per JVM and removed when it exits. */
  private static final class Classpath {
    private static String copy;

    static synchronized String copy() {
      if (copy == null) {
        try {
          copy = make();
        } catch (IOException e) {
          throw new UncheckedIOException("could not copy the test classpath for child JVMs", e);
        }
      }
      return copy;
    }

    private static String make() throws IOException {
      Path base = Files.createTempDirectory(Path.of("/tmp"), "layerd-testcp-");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(base)));
      Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
      List<String> out = new ArrayList<>();
      int i = 0;
      for (Path entry : entries()) {
        String leaf = entry.getFileName() == null ? "root" : entry.getFileName().toString();
        Path target = base.resolve(String.format("%03d-%s", i++, leaf));
        if (Files.isDirectory(entry)) {
          copyTree(entry, target);
        } else {
          Files.copy(entry, target, StandardCopyOption.REPLACE_EXISTING);
          Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-r--r--"));
        }
        out.add(target.toString());
      }
      return String.join(File.pathSeparator, out);
    }

    /**
     * The entries of the test classpath. Surefire may start tests with a manifest-only jar; then
     * the manifest's Class-Path names the real entries.
     */
    private static List<Path> entries() throws IOException {
      Set<Path> out = new LinkedHashSet<>();
      for (String s : System.getProperty("java.class.path").split(File.pathSeparator)) {
        if (s.isEmpty()) {
          continue;
        }
        Path p = Path.of(s).toAbsolutePath();
        if (!Files.exists(p)) {
          continue;
        }
        List<Path> inner = manifestClassPath(p);
        if (inner.isEmpty()) {
          out.add(p);
        } else {
          out.addAll(inner);
        }
      }
      return new ArrayList<>(out);
    }

    private static List<Path> manifestClassPath(Path jar) throws IOException {
      if (!Files.isRegularFile(jar) || !jar.toString().endsWith(".jar")) {
        return List.of();
      }
      try (JarFile jf = new JarFile(jar.toFile())) {
        Manifest mf = jf.getManifest();
        String cp = mf == null ? null : mf.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
        if (cp == null || jf.size() > 2) {
          return List.of(); // a real jar that merely names others keeps its own classes
        }
        List<Path> out = new ArrayList<>();
        for (String u : cp.trim().split("\\s+")) {
          try {
            Path p = Path.of(jar.toUri().resolve(new URI(null, null, u, null)));
            if (Files.exists(p)) {
              out.add(p);
            }
          } catch (URISyntaxException | IllegalArgumentException e) {
            Path p = jar.resolveSibling(u);
            if (Files.exists(p)) {
              out.add(p);
            }
          }
        }
        return out;
      }
    }

    private static void copyTree(Path from, Path to) throws IOException {
      Files.walkFileTree(
          from,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs)
                throws IOException {
              Path d = to.resolve(from.relativize(dir).toString());
              Files.createDirectories(d);
              Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              Path f = to.resolve(from.relativize(file).toString());
              Files.copy(file, f, StandardCopyOption.REPLACE_EXISTING);
              Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
              return FileVisitResult.CONTINUE;
            }
          });
    }

    private static void deleteQuietly(Path root) {
      try {
        TestFiles.deleteTree(root);
      } catch (IOException e) {
        // best effort at exit
      }
    }
  }
}
