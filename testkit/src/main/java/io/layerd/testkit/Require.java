package io.layerd.testkit;

import io.layerd.sys.Executables;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Probes for what a test needs from the machine. A missing feature skips the test with the reason
 * ({@link Assumptions#abort(String)}), unless the switch is on — system property {@code
 * layerd.requireAll=true} or environment variable {@code LAYERD_REQUIRE_ALL=true} — in which case
 * it fails the test ({@link Assertions#fail(String)}): on CI, where every tier must run, a skip
 * would hide a broken set-up.
 *
 * <pre>{@code
 * Require.root();
 * Path tar = Require.command("tar");
 * Require.kernelAtLeast(5, 11);
 * }</pre>
 *
 * <p>Probes are cheap after the first call (results are cached per JVM) and thread-safe.
 */
public final class Require {
  private Require() {}

  /** The system property that turns skips into failures. */
  public static final String REQUIRE_ALL_PROPERTY = "layerd.requireAll";

  /** The environment variable that turns skips into failures. */
  public static final String REQUIRE_ALL_ENV = "LAYERD_REQUIRE_ALL";

  /** True when a missing feature fails a test instead of skipping it. */
  public static boolean requireAll() {
    return requireAll(System::getProperty, System::getenv);
  }

  /** {@link #requireAll()} over the given property and environment look-ups (for tests). */
  static boolean requireAll(UnaryOperator<String> properties, UnaryOperator<String> environment) {
    return "true".equalsIgnoreCase(trim(properties.apply(REQUIRE_ALL_PROPERTY)))
        || "true".equalsIgnoreCase(trim(environment.apply(REQUIRE_ALL_ENV)));
  }

  private static String trim(String s) {
    return s == null ? null : s.strip();
  }

  /**
   * Goes on when {@code ok}; otherwise skips the test with {@code reason}, or fails it when {@link
   * #requireAll()}.
   */
  public static void that(boolean ok, String reason) {
    check(ok, reason, requireAll());
  }

  /** {@link #that} with the switch given (for tests of this class). */
  static void check(boolean ok, String reason, boolean strict) {
    if (ok) {
      return;
    }
    if (strict) {
      Assertions.fail(
          "required: "
              + reason
              + " (this machine lacks it, and "
              + REQUIRE_ALL_PROPERTY
              + "/"
              + REQUIRE_ALL_ENV
              + " is on)");
    }
    Assumptions.abort("skipped: " + reason);
  }

  /** The test runs as root (effective uid 0). */
  public static void root() {
    long euid = Sys.geteuid();
    that(euid == 0, "needs root; running as uid " + euid);
  }

  /** True when this process runs as root. */
  public static boolean isRoot() {
    return Sys.geteuid() == 0;
  }

  /**
   * Unprivileged user namespaces work here, with the set-uid helpers that map subordinate ids:
   * {@code unshare --user --map-root-user true} really runs, and {@code newuidmap}/{@code
   * newgidmap} (Debian package uidmap) are on the PATH, as {@code unshare --map-auto} needs them.
   */
  public static void userNamespaces() {
    String problem = UserNsProbe.PROBLEM;
    that(problem == null, "needs user namespaces: " + problem);
  }

  /**
   * An executable named {@code name} is on the PATH; returns its path. A name holding a slash is
   * taken as a path.
   */
  public static Path command(String name) {
    Optional<Path> p = which(name);
    that(p.isPresent(), "needs the command '" + name + "' on the PATH");
    return p.orElseThrow();
  }

  /** Looks an executable up on the PATH, as a shell would. */
  public static Optional<Path> which(String name) {
    return Executables.which(name);
  }

  /** The FUSE device {@code /dev/fuse} exists (whether this user may open it is another matter). */
  public static void fuse() {
    boolean ok;
    try {
      ok = Sys.lstat("/dev/fuse").isCharDevice();
    } catch (IOException e) {
      ok = false;
    }
    that(ok, "needs /dev/fuse (FUSE)");
  }

  /** The running kernel is at least {@code major.minor}. */
  public static void kernelAtLeast(int major, int minor) {
    String release = kernelRelease();
    int[] v = parseKernelVersion(release);
    boolean ok = v[0] > major || (v[0] == major && v[1] >= minor);
    that(ok, "needs Linux " + major + "." + minor + " or later; this is " + release);
  }

  /** The kernel release, e.g. "6.1.0-18-amd64". */
  public static String kernelRelease() {
    try {
      return Sys.uname().release();
    } catch (IOException e) {
      throw new IllegalStateException("uname failed", e);
    }
  }

  private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)");

  /** Major and minor of a kernel release string; {0, 0} when it does not start with them. */
  static int[] parseKernelVersion(String release) {
    Matcher m = VERSION.matcher(release);
    if (!m.find()) {
      return new int[] {0, 0};
    }
    return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
  }

  /** The user-namespace probe, run once per JVM when first asked. */
  private static final class UserNsProbe {
    /** Null when user namespaces work, else what is wrong. */
    static final String PROBLEM = probe();

    private static String probe() {
      for (String c : List.of("unshare", "newuidmap", "newgidmap")) {
        if (which(c).isEmpty()) {
          return "'" + c + "' is not on the PATH (apt-get install util-linux uidmap)";
        }
      }
      List<String> cmd = List.of("unshare", "--user", "--map-root-user", "true");
      try {
        Exec.Outcome o = Exec.run(cmd, Duration.ofSeconds(20));
        return o.ok() ? null : o.describe(cmd);
      } catch (IOException e) {
        return String.join(" ", cmd) + " could not run: " + e;
      }
    }
  }
}
