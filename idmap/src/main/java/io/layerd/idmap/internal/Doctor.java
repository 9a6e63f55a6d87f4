package io.layerd.idmap.internal;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.Problems;
import io.layerd.idmap.RangeSuggestion;
import io.layerd.idmap.SubIdFile;
import io.layerd.idmap.SubIdRange;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UserAccount;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checks every prerequisite of rootless operation and names the remedy the Docker rootless
 * documentation gives for each: subordinate ranges for the user ({@code No subuid ranges found for
 * user 1001 ("testuser")}) and at least 65,536 of them, {@code newuidmap}/{@code newgidmap} (the
 * uidmap package), {@code user.max_user_namespaces}, {@code kernel.unprivileged_userns_clone},
 * Ubuntu's AppArmor restriction of unprivileged user namespaces, {@code XDG_RUNTIME_DIR}, and
 * finally whether a namespace can really be entered.
 *
 * <p>Everything is read through an {@link Environment}: the files under a root directory (so a test
 * can present each failing condition from a temporary tree), the process environment, the user's
 * ids and a probe that tries to enter a namespace.
 */
public final class Doctor {
  /** What most images need: the 65,536 ids useradd grants and Docker's documentation asks for. */
  public static final long RECOMMENDED_IDS = Ids.BLOCK;

  private static final List<String> STANDARD_BIN =
      List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin");

  /** Tries to enter a user namespace; empty when that works, else why it does not. */
  @FunctionalInterface
  public interface EntryProbe {
    Optional<String> tryEnter() throws IOException;
  }

  /**
   * Where the doctor looks.
   *
   * @param root the file-system root: {@code /etc/subuid} is read as {@code root/etc/subuid}, and
   *     so on for {@code /etc/subgid}, {@code /etc/passwd}, {@code /proc/sys/...} and the
   *     directories of {@code PATH}
   * @param env the process environment ({@code PATH}, {@code XDG_RUNTIME_DIR})
   * @param uid the host uid of the process
   * @param gid the host gid of the process
   * @param inUserNamespace true when the process already runs inside a user namespace
   * @param probe tries to enter a namespace, or null to leave that check out
   */
  public record Environment(
      Path root,
      Map<String, String> env,
      long uid,
      long gid,
      boolean inUserNamespace,
      EntryProbe probe) {
    public Environment {
      Objects.requireNonNull(root, "root");
      env = Map.copyOf(env);
    }

    /** This machine and this process, with the real probe ({@link RootlessNamespace#probe()}). */
    public static Environment system() throws IOException {
      UserAccount u = UserAccount.current();
      return new Environment(
          Path.of("/"),
          System.getenv(),
          u.uid(),
          u.gid(),
          RootlessNamespace.inUserNamespace(),
          RootlessNamespace::probe);
    }

    /** The same environment with another probe (null: no probe). */
    public Environment withProbe(EntryProbe p) {
      return new Environment(root, env, uid, gid, inUserNamespace, p);
    }

    /** An absolute path under {@link #root()}. */
    public Path file(String absolute) {
      return root.resolve(absolute.startsWith("/") ? absolute.substring(1) : absolute);
    }

    boolean isRoot() {
      return uid == 0 && !inUserNamespace;
    }

    boolean isSystemRoot() {
      return root.toAbsolutePath().normalize().equals(Path.of("/"));
    }
  }

  private final Environment env;

  public Doctor(Environment env) {
    this.env = Objects.requireNonNull(env, "env");
  }

  /** Runs every check on this machine for the current user. */
  public static DoctorReport system() throws IOException {
    return new Doctor(Environment.system()).check();
  }

  /** Checks for the process's own user. */
  public DoctorReport check() throws IOException {
    return run(account(env.uid()), true);
  }

  /**
   * Checks for another user (as root, before handing the machine to that user): the checks that are
   * about this process (XDG_RUNTIME_DIR, the namespace probe) are left out.
   */
  public DoctorReport check(String userName) throws IOException {
    UserAccount u =
        findByName(userName)
            .orElseThrow(
                () -> new NoSuchFileException("no user \"" + userName + "\" in " + passwd()));
    return run(u, u.uid() == env.uid());
  }

  /** Only the checks without which a namespace cannot be entered (no probe, no warnings). */
  public List<DoctorCheck> entryBlockers() throws IOException {
    return run(account(env.uid()), false).failures();
  }

  private DoctorReport run(UserAccount user, boolean self) throws IOException {
    List<DoctorCheck> out = new ArrayList<>();
    boolean asRoot = self && env.isRoot();
    out.add(userCheck(user, asRoot));
    SubordinateIds ids =
        SubordinateIds.of(
            user,
            SubIdFile.parse(env.file("/etc/subuid")),
            SubIdFile.parse(env.file("/etc/subgid")));
    if (asRoot || user.uid() == 0) {
      String skip =
          "skipped: root does not need subordinate ids (layerctl doctor --user NAME checks a user)";
      out.add(DoctorCheck.pass("subuid", skip));
      out.add(DoctorCheck.pass("subgid", skip));
    } else {
      out.add(rangeCheck(ids, IdKind.UID));
      out.add(rangeCheck(ids, IdKind.GID));
    }
    out.add(fileProblems(ids));
    out.add(mapTool(IdKind.UID));
    out.add(mapTool(IdKind.GID));
    out.add(unshareTool());
    out.add(maxUserNamespaces());
    out.add(unprivilegedUsernsClone());
    out.add(apparmorRestriction());
    if (self) {
      out.add(xdgRuntimeDir(user));
      out.add(probe(asRoot, out));
    }
    return new DoctorReport(user, out);
  }

  // ------------------------------------------------------------------ the user

  private Path passwd() {
    return env.file("/etc/passwd");
  }

  private UserAccount account(long uid) throws IOException {
    Optional<UserAccount> u = UserAccount.lookup(uid, passwd());
    if (u.isEmpty() && env.isSystemRoot()) {
      u = UserAccount.lookup(uid);
    }
    return u.map(a -> new UserAccount(a.name(), uid, env.gid()))
        .orElse(new UserAccount(Long.toString(uid), uid, env.gid()));
  }

  private Optional<UserAccount> findByName(String name) throws IOException {
    Optional<UserAccount> u = UserAccount.byName(name, passwd());
    return u.isEmpty() && env.isSystemRoot() ? UserAccount.byName(name) : u;
  }

  private DoctorCheck userCheck(UserAccount user, boolean asRoot) {
    if (asRoot) {
      return DoctorCheck.pass(
          "user", "running as root: rootless mode is not needed, layers are applied as root");
    }
    return DoctorCheck.pass(
        "user",
        "checking user "
            + user
            + (env.inUserNamespace()
                ? ", this process already runs inside a user namespace"
                : ", not yet inside a user namespace (layerctl and layerd enter one when needed)"));
  }

  // ------------------------------------------------------------------ /etc/subuid, /etc/subgid

  private DoctorCheck rangeCheck(SubordinateIds ids, IdKind kind) {
    String name = kind.subLabel();
    SubIdFile file = ids.file(kind);
    List<SubIdRange> ranges = ids.ranges(kind);
    long count = ids.count(kind);
    String remedy = addRemedy(ids);
    if (ranges.isEmpty()) {
      return DoctorCheck.fail(
          name,
          "No "
              + name
              + " ranges found for user "
              + ids.user()
              + (file.present() ? " in " + file.path() : ": " + file.path() + " does not exist"),
          remedy);
    }
    String where =
        ranges.stream()
            .map(r -> r.where() + " \"" + r.entry() + "\"")
            .collect(Collectors.joining(", "));
    try {
      IdMapping.rootless(ids.ownId(kind), ranges);
    } catch (IllegalArgumentException e) {
      return DoctorCheck.fail(
          name,
          "the "
              + name
              + " ranges of "
              + ids.user().name()
              + " ("
              + where
              + ") cannot be mapped together: "
              + e.getMessage(),
          "Give "
              + ids.user().name()
              + " ranges that do not overlap each other or the user's own id in "
              + file.path()
              + ".");
    }
    if (count < RECOMMENDED_IDS) {
      return DoctorCheck.warn(
          name,
          ids.user().name()
              + " has only "
              + Ids.plural(
                  count, "subordinate " + kind.label(), "subordinate " + kind.label() + "s")
              + " ("
              + where
              + "); images with files owned by "
              + kind.label()
              + "s above "
              + count
              + " fail with \"lchown <FILE>: invalid argument\"",
          remedy);
    }
    return DoctorCheck.pass(
        name,
        Ids.plural(count, "subordinate " + kind.label(), "subordinate " + kind.label() + "s")
            + ": "
            + where
            + " (container "
            + kind.label()
            + "s 0-"
            + count
            + " in the rootless layout)");
  }

  /** The usermod command that brings both kinds up to 65,536 ids. */
  private static String addRemedy(SubordinateIds ids) {
    List<RangeSuggestion> s = new ArrayList<>();
    ids.suggest(IdKind.UID, RECOMMENDED_IDS).ifPresent(s::add);
    ids.suggest(IdKind.GID, RECOMMENDED_IDS).ifPresent(s::add);
    if (s.isEmpty()) {
      return "";
    }
    String lines =
        s.stream()
            .map(r -> "\"" + r.fileLine(ids.user().name()) + "\" to " + r.kind().defaultSubIdFile())
            .collect(Collectors.joining(" and "));
    return "/etc/subuid and /etc/subgid should hold at least 65,536 subordinate ids for the user."
        + " Run `"
        + RangeSuggestion.usermodCommand(s, ids.user().name())
        + "` (or add "
        + lines
        + "), then restart layerd or rootless dockerd.";
  }

  private static DoctorCheck fileProblems(SubordinateIds ids) {
    Problems p = ids.problems();
    if (p.isEmpty()) {
      return DoctorCheck.pass(
          "subid-files",
          "no malformed or overlapping lines in "
              + ids.file(IdKind.UID).path()
              + " and "
              + ids.file(IdKind.GID).path());
    }
    String list =
        p.all().stream().map(Problems.Problem::toString).collect(Collectors.joining("; "));
    return DoctorCheck.warn(
        "subid-files",
        list,
        "Correct or remove those lines: each is owner:start:count in decimal (shadow ignores"
            + " malformed lines), and each user should have ranges no other user has.");
  }

  // ------------------------------------------------------------------ tools

  /** A path under the root as the machine it describes names it: {@code /usr/bin/unshare}. */
  private String logical(Path p) {
    return "/" + env.root().relativize(p);
  }

  private Optional<Path> which(String tool) {
    Set<String> dirs = new LinkedHashSet<>();
    String path = env.env().get("PATH");
    if (path != null) {
      for (String d : path.split(":")) {
        if (d.startsWith("/")) {
          dirs.add(d);
        }
      }
    }
    dirs.addAll(STANDARD_BIN);
    for (String d : dirs) {
      Path p = env.file(d).resolve(tool);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  private DoctorCheck mapTool(IdKind kind) {
    String tool = kind.mapTool();
    Optional<Path> p = which(tool);
    String shown = p.map(this::logical).orElse(tool);
    String install =
        "Install the uidmap package, which provides newuidmap and newgidmap: `sudo apt-get install"
            + " -y uidmap` (Debian, Ubuntu; `sudo dnf install -y shadow-utils` on Fedora and RHEL).";
    if (p.isEmpty()) {
      return DoctorCheck.fail(
          tool, tool + " was not found (PATH and /usr/bin, /usr/sbin, /bin, /sbin)", install);
    }
    try {
      int mode = (Integer) Files.getAttribute(p.get(), "unix:mode", LinkOption.NOFOLLOW_LINKS);
      int owner = (Integer) Files.getAttribute(p.get(), "unix:uid", LinkOption.NOFOLLOW_LINKS);
      // Inside a user namespace root is not mapped: the owner shows as the overflow uid.
      boolean setuidRoot = (mode & 04000) != 0 && (owner == 0 || env.inUserNamespace());
      boolean caps = !setuidRoot && hasFileCapabilities(p.get());
      if (setuidRoot || caps) {
        return DoctorCheck.pass(
            tool, shown + (setuidRoot ? " is setuid root" : " has file capabilities"));
      }
      return DoctorCheck.fail(
          tool,
          shown
              + " is neither setuid root nor has file capabilities, so it cannot write "
              + kind.procMapName(),
          "Reinstall the uidmap package (`sudo apt-get install --reinstall uidmap`), or `sudo"
              + " chown root "
              + shown
              + " && sudo chmod u+s "
              + shown
              + "`.");
    } catch (IOException | UnsupportedOperationException e) {
      return DoctorCheck.fail(tool, "cannot inspect " + shown + ": " + e.getMessage(), install);
    }
  }

  private boolean hasFileCapabilities(Path p) {
    if (!env.isSystemRoot()) {
      return false;
    }
    try {
      return Sys.lgetxattr(p.toString().getBytes(StandardCharsets.UTF_8), "security.capability")
          != null;
    } catch (IOException e) {
      return false;
    }
  }

  private DoctorCheck unshareTool() {
    Optional<Path> p = which("unshare");
    return p.isPresent()
        ? DoctorCheck.pass("unshare", logical(p.get()) + " (util-linux) creates the namespace")
        : DoctorCheck.fail(
            "unshare",
            "unshare (util-linux) was not found",
            "Install util-linux: `sudo apt-get install -y util-linux`.");
  }

  // ------------------------------------------------------------------ kernel switches

  /**
   * A sysctl's value, read in one read(2) call: the kernel's integer sysctl handlers answer a read
   * at a non-zero offset with nothing, so a reader that takes one byte first (Files.readString on a
   * file whose size is 0, as every /proc file says) sees "9" of "96367".
   */
  private Optional<String> sysctl(String path) throws IOException {
    try (java.io.InputStream in = Files.newInputStream(env.file(path))) {
      byte[] b = new byte[4096];
      int n = in.read(b, 0, b.length);
      return Optional.of(n <= 0 ? "" : new String(b, 0, n, StandardCharsets.US_ASCII).strip());
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  private DoctorCheck maxUserNamespaces() throws IOException {
    String f = "/proc/sys/user/max_user_namespaces";
    Optional<String> v = sysctl(f);
    if (v.isEmpty()) {
      return DoctorCheck.fail(
          "max_user_namespaces",
          f + " does not exist: this kernel was built without user namespaces (CONFIG_USER_NS)",
          "Use a kernel with CONFIG_USER_NS=y.");
    }
    if (v.get().equals("0")) {
      return DoctorCheck.fail(
          "max_user_namespaces",
          f + " is 0: the kernel allows no user namespaces",
          "Add `user.max_user_namespaces=28633` to /etc/sysctl.conf (or /etc/sysctl.d) and run"
              + " `sudo sysctl --system`.");
    }
    return DoctorCheck.pass("max_user_namespaces", f + " is " + v.get());
  }

  private DoctorCheck unprivilegedUsernsClone() throws IOException {
    String f = "/proc/sys/kernel/unprivileged_userns_clone";
    Optional<String> v = sysctl(f);
    if (v.isEmpty()) {
      return DoctorCheck.pass(
          "unprivileged_userns_clone",
          f + " does not exist: this kernel has no switch against unprivileged user namespaces");
    }
    if (v.get().equals("0")) {
      return DoctorCheck.fail(
          "unprivileged_userns_clone",
          f + " is 0: unprivileged users may not create user namespaces",
          "Add `kernel.unprivileged_userns_clone=1` to /etc/sysctl.conf (or /etc/sysctl.d) and run"
              + " `sudo sysctl --system`.");
    }
    return DoctorCheck.pass("unprivileged_userns_clone", f + " is " + v.get());
  }

  private DoctorCheck apparmorRestriction() throws IOException {
    String f = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
    Optional<String> v = sysctl(f);
    if (v.isEmpty() || v.get().equals("0")) {
      return DoctorCheck.pass(
          "apparmor_userns",
          v.isEmpty()
              ? "no AppArmor restriction of unprivileged user namespaces (" + f + " does not exist)"
              : f + " is 0: AppArmor does not restrict unprivileged user namespaces");
    }
    String unshare = which("unshare").map(this::logical).orElse("/usr/bin/unshare");
    String profile = unshare.substring(1).replace('/', '.');
    return DoctorCheck.fail(
        "apparmor_userns",
        f
            + " is "
            + v.get()
            + ": AppArmor (Ubuntu 24.04 and later) lets only programs with a profile that allows"
            + " it use unprivileged user namespaces",
        "Create /etc/apparmor.d/"
            + profile
            + " with `abi <abi/4.0>, include <tunables/global> \""
            + unshare
            + "\" flags=(unconfined) { userns, include if exists <local/"
            + profile
            + "> }` (the profile Docker's documentation gives for rootlesskit, for the unshare"
            + " layerd runs; add one for rootlesskit too if you use it), then `sudo systemctl"
            + " restart apparmor.service`. Or lift the restriction for everything: `sudo sysctl -w"
            + " kernel.apparmor_restrict_unprivileged_userns=0`.");
  }

  // ------------------------------------------------------------------ this process

  private DoctorCheck xdgRuntimeDir(UserAccount user) {
    String v = env.env().get("XDG_RUNTIME_DIR");
    String remedy =
        "Log in through pam_systemd (a graphical login, `ssh "
            + user.name()
            + "@localhost` or `machinectl shell "
            + user.name()
            + "@`), which sets it to /run/user/"
            + user.uid()
            + "; `su` and `sudo` sessions do not. Without systemd: `export"
            + " XDG_RUNTIME_DIR=$HOME/.docker/xrd; rm -rf $XDG_RUNTIME_DIR; mkdir -p"
            + " $XDG_RUNTIME_DIR` (and remove it when you log out).";
    if (v == null || v.isEmpty()) {
      return DoctorCheck.warn(
          "XDG_RUNTIME_DIR",
          "XDG_RUNTIME_DIR is not set: layerctl does not need it, but the layerd daemon and"
              + " rootless dockerd keep their sockets there",
          remedy);
    }
    Path dir = env.file(v);
    if (!Files.isDirectory(dir)) {
      return DoctorCheck.warn(
          "XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR is " + v + ", which is not a directory", remedy);
    }
    return DoctorCheck.pass("XDG_RUNTIME_DIR", "XDG_RUNTIME_DIR is " + v);
  }

  private DoctorCheck probe(boolean asRoot, List<DoctorCheck> earlier) throws IOException {
    String name = "userns";
    if (asRoot) {
      return DoctorCheck.pass(name, "skipped: root applies layers without a user namespace");
    }
    if (env.inUserNamespace()) {
      return DoctorCheck.pass(name, "already inside a user namespace");
    }
    if (env.probe() == null) {
      return DoctorCheck.pass(name, "skipped: no probe in this environment");
    }
    Optional<String> why = env.probe().tryEnter();
    if (why.isEmpty()) {
      return DoctorCheck.pass(
          name,
          "entered a user and mount namespace mapped by newuidmap/newgidmap and ran a command as"
              + " its root");
    }
    List<String> failed =
        earlier.stream()
            .filter(c -> c.status() == CheckStatus.FAIL)
            .map(DoctorCheck::name)
            .collect(Collectors.toList());
    return DoctorCheck.fail(
        name,
        "could not enter a user namespace: " + why.get(),
        failed.isEmpty()
            ? "See the message above; `layerctl doctor` found no other missing prerequisite."
            : "Apply the remedies of the failed checks above (" + String.join(", ", failed) + ").");
  }
}
