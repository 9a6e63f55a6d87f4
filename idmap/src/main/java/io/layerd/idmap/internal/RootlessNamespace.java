package io.layerd.idmap.internal;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UserAccount;
import io.layerd.sys.Sys;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Entering a rootless user namespace: {@code layerctl} and {@code layerd}, started by a non-root
 * user, re-run themselves inside a new user and mount namespace whose maps {@code newuidmap}/{@code
 * newgidmap} write, unless they already run inside one (under rootlesskit, or after the re-exec).
 *
 * <h2>How</h2>
 *
 * <p>The default {@link Launcher#NEWUIDMAP} does what rootlesskit does: it starts {@code unshare
 * --user --mount -- sh -c 'wait for the map; exec "$@"' sh COMMAND...}, waits until that child has
 * its own user namespace, and runs {@code newgidmap PID 0 GID 1 1 START COUNT ...} and {@code
 * newuidmap PID 0 UID 1 1 START COUNT ...} on it: the <em>rootless layout</em> of all the user's
 * subordinate ranges ({@link IdMapping#rootless}). The child then becomes root of the namespace and
 * execs the command. {@link Launcher#UNSHARE_MAP_AUTO} runs util-linux's {@code unshare --user
 * --mount --map-root-user --map-auto} instead, which maps only the first range, less one id
 * (measured: {@code 0 UID 1}, {@code 1 165536 65535}) — so adding a second range with {@code
 * usermod --add-subuids} helps only the default launcher.
 *
 * <p>The re-executed command is the same JVM ({@code java.home/bin/java}, the JVM's input
 * arguments, {@code -cp java.class.path}, the main class and the arguments), with {@value
 * #CHILD_ENV}=1 in its environment so that it can never loop, and the parent's standard streams.
 * The parent exits with the child's status.
 */
public final class RootlessNamespace {
  private RootlessNamespace() {}

  /** Set to "1" in the environment of the re-executed process. */
  public static final String CHILD_ENV = "LAYERD_ROOTLESS_CHILD";

  private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(30);

  /** The child waits for its uid_map to be written, then becomes the command. */
  private static final String WAIT_FOR_MAP =
      "until read -r l </proc/self/uid_map && [ -n \"$l\" ]; do sleep 0.01; done 2>/dev/null;"
          + " exec \"$@\"";

  /** How the namespace is made. */
  public enum Launcher {
    /** unshare for the namespaces, newuidmap/newgidmap over every subordinate range. */
    NEWUIDMAP,
    /** util-linux {@code unshare --map-root-user --map-auto} (first range only, less one id). */
    UNSHARE_MAP_AUTO
  }

  /** What {@link #plan} decided. */
  public enum Decision {
    /** Root in the initial namespace: no namespace is needed. */
    ROOT,
    /** {@code --rootless=false}: stay where we are. */
    DISABLED,
    /** Already inside a user namespace (rootlesskit, or this is the re-executed child). */
    INSIDE,
    /** Re-execute inside a new namespace. */
    ENTER,
    /** A namespace is wanted but cannot be entered; see {@link Plan#blockers()}. */
    UNAVAILABLE
  }

  /**
   * What to do for a mode in this process.
   *
   * @param decision the decision
   * @param reason one sentence
   * @param blockers the failed prerequisites when the decision is {@link Decision#UNAVAILABLE}
   */
  public record Plan(Decision decision, String reason, List<DoctorCheck> blockers) {
    public Plan {
      Objects.requireNonNull(decision, "decision");
      blockers = List.copyOf(blockers);
    }

    /** The message for {@code --rootless=true} when the namespace cannot be entered. */
    public String failureMessage() {
      StringBuilder b =
          new StringBuilder("cannot enter a rootless user namespace: ").append(reason);
      for (DoctorCheck c : blockers) {
        b.append("\n  ").append(c.name()).append(": ").append(c.detail());
        if (!c.remedy().isEmpty()) {
          b.append("\n    remedy: ").append(c.remedy());
        }
      }
      return b.toString();
    }
  }

  /** True when this process runs inside a user namespace: its uid_map is not the identity. */
  public static boolean inUserNamespace() throws IOException {
    return !IdMapping.current(IdKind.UID).isIdentity();
  }

  /** True for root in the initial user namespace (real privileges over every id). */
  public static boolean isRoot() throws IOException {
    return Sys.geteuid() == 0 && !inUserNamespace();
  }

  /** Decides what {@code mode} means for this process, checking prerequisites when entering. */
  public static Plan plan(RootlessMode mode) throws IOException {
    if (mode == RootlessMode.FALSE) {
      return new Plan(Decision.DISABLED, "--rootless=false", List.of());
    }
    return plan(mode, Doctor.Environment.system().withProbe(null));
  }

  /**
   * {@link #plan(RootlessMode)} for an environment: whether it is inside a namespace, root, the
   * re-executed child ({@value #CHILD_ENV} in its environment), and the prerequisites it lacks.
   */
  static Plan plan(RootlessMode mode, Doctor.Environment env) throws IOException {
    if (mode == RootlessMode.FALSE) {
      return new Plan(Decision.DISABLED, "--rootless=false", List.of());
    }
    if (env.inUserNamespace()) {
      return new Plan(Decision.INSIDE, "already inside a user namespace", List.of());
    }
    if (env.uid() == 0) {
      return new Plan(Decision.ROOT, "running as root", List.of());
    }
    if ("1".equals(env.env().get(CHILD_ENV))) {
      return new Plan(
          Decision.UNAVAILABLE,
          "this process was re-executed to enter a user namespace but is not inside one",
          List.of());
    }
    List<DoctorCheck> blockers = new Doctor(env).entryBlockers();
    if (!blockers.isEmpty()) {
      return new Plan(
          Decision.UNAVAILABLE,
          blockers.stream().map(DoctorCheck::name).collect(Collectors.joining(", "))
              + (blockers.size() == 1 ? " is" : " are")
              + " missing",
          blockers);
    }
    return new Plan(Decision.ENTER, "non-root user outside a user namespace", List.of());
  }

  /**
   * Re-runs this JVM's program inside a new user and mount namespace when {@code mode} asks for it
   * and this process is not in one yet, and exits with the child's status; returns normally when
   * the program should just go on in this process. With {@link RootlessMode#AUTO}, a namespace that
   * cannot be entered is reported on standard error and the program goes on without one. layerctl's
   * and layerd's {@code main} call this first.
   *
   * @param mainClass the class whose {@code main} the child runs
   * @param args the program's arguments, passed on unchanged
   * @param warnings told why the program goes on without a namespace (with {@link
   *     RootlessMode#AUTO}), for the program to show its user
   * @throws RootlessException with {@link RootlessMode#TRUE} when no namespace can be entered,
   *     naming each missing prerequisite and its remedy
   */
  public static void reexecIfNeeded(
      RootlessMode mode, String mainClass, String[] args, Consumer<String> warnings)
      throws IOException {
    OptionalInt status = reexec(mode, Launcher.NEWUIDMAP, mainClass, args, warnings);
    if (status.isPresent()) {
      System.out.flush();
      System.err.flush();
      System.exit(status.getAsInt());
    }
  }

  /**
   * {@link #reexecIfNeeded} without exiting: the child's exit status when the program was re-run,
   * empty when it should go on in this process.
   */
  public static OptionalInt reexec(
      RootlessMode mode,
      Launcher launcher,
      String mainClass,
      String[] args,
      Consumer<String> warnings)
      throws IOException {
    Plan plan = plan(mode);
    switch (plan.decision()) {
      case ENTER:
        break;
      case UNAVAILABLE:
        if (mode == RootlessMode.TRUE) {
          throw new RootlessException(plan.failureMessage(), plan.blockers());
        }
        warnings.accept(
            "running without a user namespace ("
                + plan.reason()
                + "): the owners the layers name will be dropped, every file made will be owned"
                + " by your uid and gid; `layerctl doctor` says what to fix so that they are kept");
        return OptionalInt.empty();
      default:
        return OptionalInt.empty();
    }
    try {
      return OptionalInt.of(
          run(launcher, javaCommand(mainClass, args), Map.of(CHILD_ENV, "1"), null));
    } catch (IOException e) {
      if (mode == RootlessMode.TRUE) {
        throw new RootlessException("cannot enter a rootless user namespace: " + e.getMessage(), e);
      }
      warnings.accept(
          "running without a user namespace ("
              + e.getMessage()
              + "): the owners the layers name will be dropped, every file made will be owned by"
              + " your uid and gid; `layerctl doctor` says what to fix so that they are kept");
      return OptionalInt.empty();
    }
  }

  /**
   * The command that re-runs this JVM: {@code java.home/bin/java}, the JVM's input arguments,
   * {@code -cp java.class.path}, {@code mainClass}, {@code args}.
   */
  public static List<String> javaCommand(String mainClass, String[] args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    return cmd;
  }

  /**
   * Tries to enter a namespace the way {@link #reexec} does and run {@code true} as its root: empty
   * when that works, else the output of what failed. For {@link Doctor}.
   */
  public static Optional<String> probe() {
    try {
      Path out = Files.createTempFile("layerd-userns-probe", ".txt");
      try {
        int status =
            run(
                Launcher.NEWUIDMAP,
                List.of(
                    "sh",
                    "-c",
                    "test \"$(id -u)\" = 0 || { echo \"uid $(id -u), not 0\"; exit 1; }"),
                Map.of(CHILD_ENV, "1"),
                out);
        String text = Files.readString(out, StandardCharsets.UTF_8).strip();
        return status == 0
            ? Optional.empty()
            : Optional.of(
                "the command in the namespace exited with status "
                    + status
                    + (text.isEmpty() ? "" : ": " + text));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      return Optional.of(e.getMessage());
    }
  }

  /**
   * Runs {@code command} inside a new user and mount namespace made by {@code launcher} for the
   * current user and returns its exit status.
   *
   * @param extraEnv added to the child's environment
   * @param output where the child's standard output and error go, or null to inherit this process's
   *     standard streams (input included)
   * @throws IOException when the namespace cannot be set up (the child is then killed)
   */
  public static int run(
      Launcher launcher, List<String> command, Map<String, String> extraEnv, Path output)
      throws IOException {
    String unshare = findTool("unshare");
    List<String> cmd = new ArrayList<>();
    cmd.add(unshare);
    cmd.add("--user");
    cmd.add("--mount");
    if (launcher == Launcher.UNSHARE_MAP_AUTO) {
      cmd.add("--map-root-user");
      cmd.add("--map-auto");
      cmd.add("--");
    } else {
      cmd.add("--");
      cmd.add("/bin/sh");
      cmd.add("-c");
      cmd.add(WAIT_FOR_MAP);
      cmd.add("sh");
    }
    cmd.addAll(command);
    IdMappings layout = null;
    if (launcher == Launcher.NEWUIDMAP) {
      layout = layoutForCurrentUser();
    }
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(extraEnv);
    if (output == null) {
      pb.inheritIO();
    } else {
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.redirectErrorStream(true);
      pb.redirectOutput(output.toFile());
    }
    Process child = pb.start();
    Thread killer = new Thread(child::destroy, "layerd-userns-child-killer");
    Runtime.getRuntime().addShutdownHook(killer);
    try {
      if (layout != null) {
        try {
          waitForOwnNamespace(child);
          String pid = Long.toString(child.pid());
          mapTool(IdKind.GID, pid, layout.gids());
          mapTool(IdKind.UID, pid, layout.uids());
        } catch (IOException e) {
          child.destroyForcibly();
          throw e;
        }
      }
      return waitFor(child);
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(killer);
      } catch (IllegalStateException e) {
        // shutting down: the hook runs anyway
      }
    }
  }

  private static int waitFor(Process child) throws IOException {
    while (true) {
      try {
        return child.waitFor();
      } catch (InterruptedException e) {
        child.destroy();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the namespace's child", e);
      }
    }
  }

  /** The rootless layout for the user running this process, from the system's files. */
  static IdMappings layoutForCurrentUser() throws IOException {
    long uid = Sys.getuid();
    Optional<UserAccount> found = UserAccount.lookup(uid);
    UserAccount user =
        new UserAccount(found.map(UserAccount::name).orElse(Long.toString(uid)), uid, Sys.getgid());
    SubordinateIds ids = SubordinateIds.load(user);
    for (IdKind k : IdKind.values()) {
      if (ids.ranges(k).isEmpty()) {
        throw new IOException(
            "No "
                + k.subLabel()
                + " ranges found for user "
                + user
                + " in "
                + ids.file(k).path()
                + " (`layerctl doctor` says how to add them)");
      }
    }
    try {
      return ids.rootlessLayout();
    } catch (IllegalArgumentException e) {
      throw new IOException(
          "the subordinate ranges of " + user + " cannot be mapped: " + e.getMessage(), e);
    }
  }

  /** Waits until the child has left our user namespace (unshare(2) done), or fails. */
  private static void waitForOwnNamespace(Process child) throws IOException {
    Path mine = Path.of("/proc/self/ns/user");
    Path theirs = Path.of("/proc", Long.toString(child.pid()), "ns", "user");
    String own = Files.readSymbolicLink(mine).toString();
    long deadline = System.nanoTime() + SETUP_TIMEOUT.toNanos();
    while (true) {
      if (!child.isAlive()) {
        throw new IOException(
            "unshare --user --mount exited with status "
                + child.exitValue()
                + " before its namespace could be mapped");
      }
      try {
        if (!Files.readSymbolicLink(theirs).toString().equals(own)) {
          return;
        }
      } catch (IOException e) {
        // not readable yet (exec in progress): try again
      }
      if (System.nanoTime() > deadline) {
        throw new IOException("unshare did not create a user namespace within " + SETUP_TIMEOUT);
      }
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for unshare", e);
      }
    }
  }

  private static void mapTool(IdKind kind, String pid, IdMapping mapping) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(findTool(kind.mapTool()));
    cmd.add(pid);
    cmd.addAll(mapping.toMapToolArgs());
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    try {
      if (!p.waitFor(SETUP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + " did not finish");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running " + kind.mapTool(), e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(
          String.join(" ", cmd)
              + " failed with status "
              + p.exitValue()
              + (out.isEmpty() ? "" : ": " + out));
    }
  }

  /**
   * A tool's path: the first executable {@code name} on PATH or in the standard directories.
   *
   * @throws IOException when there is none (for newuidmap/newgidmap, naming the package)
   */
  public static String findTool(String name) throws IOException {
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>();
    if (path != null) {
      dirs.addAll(List.of(path.split(":")));
    }
    dirs.addAll(List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin"));
    for (String d : dirs) {
      if (d.isEmpty()) {
        continue;
      }
      Path p = Path.of(d, name);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return p.toString();
      }
    }
    throw new IOException(
        name
            + " was not found"
            + (name.startsWith("new")
                ? ": install the uidmap package (`sudo apt-get install -y uidmap`)"
                : ""));
  }
}
