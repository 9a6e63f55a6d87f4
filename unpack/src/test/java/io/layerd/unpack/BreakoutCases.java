package io.layerd.unpack;

import static io.layerd.unpack.InRoot.assertAbsent;
import static io.layerd.unpack.InRoot.assertContent;
import static io.layerd.unpack.InRoot.assertDirectory;
import static io.layerd.unpack.InRoot.assertFile;
import static io.layerd.unpack.InRoot.assertNotSameFile;
import static io.layerd.unpack.InRoot.assertSameFile;
import static io.layerd.unpack.InRoot.assertSameSymlink;
import static io.layerd.unpack.InRoot.assertSymlink;

import io.layerd.testkit.TarBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Function;

/**
 * The breakout cases that peers test (containerd's TestBreakouts, moby go-archive's breakout and
 * traversal tests, umoci's scoping tests), rebuilt as a table of named cases in code, each with
 * what layerd must do and a validator of the tree it leaves.
 *
 * <p><b>The host.</b> Each case runs in a sandbox: {@code SANDBOX/root} is the target and {@code
 * SANDBOX/victim} a host directory beside it, with files that no layer may touch ({@link
 * #prepareHost}); {@code SANDBOX/root-evil} defeats string-prefix checks. Where a peer's case names
 * the host's {@code /etc}, this table names the victim instead: {@code "etc"} becomes {@link
 * Host#etc()} (the victim's absolute path without its leading slash), so that {@code /etc} becomes
 * the victim's absolute path and {@code ../../etc} enough {@code ..} to reach the host's {@code /}
 * followed by that path. Inside the root those names resolve under the root as always; on the host,
 * an applier that follows them lands on the victim, which the test then finds changed. No case can
 * damage the machine's own files.
 *
 * <p>The same table feeds {@code io.layerd.unpack.compat.BreakoutCorpus}, which writes every case
 * for the peers (GNU tar, umoci) to be run by {@code unpack/compat/breakouts.sh}.
 */
public final class BreakoutCases {
  private BreakoutCases() {}

  /** What layerd must do with a case. */
  public enum Outcome {
    /** Apply it, every name confined to the root; the validator checks the result. */
    CONFINED,
    /** Refuse it as an invalid archive (the validator still checks what is left). */
    INVALID
  }

  /** A check of the root after a case. */
  @FunctionalInterface
  public interface Validator {
    void check(Path root) throws IOException;
  }

  /**
   * Where a case runs: the sandbox holding {@code root/} and {@code victim/}.
   *
   * @param sandbox an absolute path
   */
  public record Host(Path sandbox) {
    public Path root() {
      return sandbox.resolve("root");
    }

    public Path victim() {
      return sandbox.resolve("victim");
    }

    /** What the peers' "etc" becomes: the victim's absolute path without the leading slash. */
    public String etc() {
      return victim().toString().substring(1);
    }

    /** What the peers' "/etc" becomes: the victim's absolute path. */
    public String absEtc() {
      return victim().toString();
    }

    /** Enough "../" to reach the host's "/" from anywhere a case puts a link in the root. */
    public String up() {
      return "../".repeat(root().getNameCount() + 4);
    }
  }

  /**
   * One case: an optional lower layer (the state already on disk, applied first), the layer under
   * test, what layerd must do, and a validator.
   */
  public record Case(
      String name,
      String origin,
      Outcome outcome,
      Function<Host, TarBuilder> lower,
      Function<Host, TarBuilder> layer,
      Function<Host, Validator> validator) {
    @Override
    public String toString() {
      return origin + " " + name;
    }
  }

  /** The contents of the host's victim files that are secret: none may be read into a root. */
  public static final String SECRET_PREFIX = "host secret ";

  /** Writes the host side of a sandbox: an empty root, the victim and a lookalike sibling. */
  public static void prepareHost(Host h) throws IOException {
    Files.createDirectories(h.root());
    Files.createDirectories(h.victim());
    write(h.victim().resolve("hello"), SECRET_PREFIX + UUID.randomUUID(), "rw-r--r--");
    write(h.victim().resolve("passwd"), SECRET_PREFIX + UUID.randomUUID(), "rw-r--r--");
    write(h.victim().resolve("emptied"), "notempty", "rw-r--r--");
    write(h.victim().resolve("whitedout"), "host whiteout", "rw-r--r--");
    write(h.victim().resolve("perm400"), "...", "r--------");
    write(h.victim().resolve("also-exists-outside-root"), "...", "rw-r-----");
    Files.createDirectories(h.victim().resolve("sub"));
    write(h.victim().resolve("sub/file"), "host sub file", "rw-r--r--");
    Path evil = h.sandbox().resolve("root-evil");
    Files.createDirectories(evil);
    write(evil.resolve("secret"), SECRET_PREFIX + UUID.randomUUID(), "rw-r--r--");
  }

  private static void write(Path p, String content, String perms) throws IOException {
    Files.writeString(p, content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
  }

  // ---------------------------------------------------------------- the table

  /** Every case, in the peers' order. */
  public static List<Case> all() {
    List<Case> out = new ArrayList<>();
    out.addAll(containerd());
    out.addAll(moby());
    out.addAll(umoci());
    out.addAll(layerd());
    return out;
  }

  private static TarBuilder tar() {
    return TarBuilder.create();
  }

  /** "etc" and "etc/passwd" with the content "inside": the root's own etc. */
  private static TarBuilder withEtc(Host h) {
    return tar().dir(h.etc()).file(h.etc() + "/passwd", "inside");
  }

  private static Case ok(
      String origin,
      String name,
      Function<Host, TarBuilder> lower,
      Function<Host, TarBuilder> layer,
      Function<Host, Validator> v) {
    return new Case(name, origin, Outcome.CONFINED, lower, layer, v);
  }

  private static Case invalid(
      String origin,
      String name,
      Function<Host, TarBuilder> lower,
      Function<Host, TarBuilder> layer,
      Function<Host, Validator> v) {
    return new Case(name, origin, Outcome.INVALID, lower, layer, v);
  }

  private static Validator unbroken(Host h) {
    return root -> assertContent(root, h.etc() + "/unbroken", "unbroken");
  }

  private static Validator samePasswd(Host h, String path) {
    return root -> {
      assertSameFile(root, path, h.etc() + "/passwd");
      assertContent(root, path, "inside");
    };
  }

  private static Validator all(Validator... vs) {
    return root -> {
      for (Validator v : vs) {
        v.check(root);
      }
    };
  }

  /** containerd pkg/archive TestBreakouts, its 34 cases. */
  static List<Case> containerd() {
    String o = "containerd";
    List<Case> c = new ArrayList<>();
    c.add(
        ok(
            o,
            "SymlinkAbsolute",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .symlink("localetc", h.absEtc())
                    .file("/localetc/unbroken", "unbroken"),
            BreakoutCases::unbroken));
    c.add(
        ok(
            o,
            "SymlinkUpAndOut",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .dir("dummy")
                    .symlink("localetc", "/dummy/../" + h.etc())
                    .file("/localetc/unbroken", "unbroken"),
            BreakoutCases::unbroken));
    c.add(
        ok(
            o,
            "SymlinkMultipleAbsolute",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .dir("dummy")
                    .symlink("/dummy/etc", h.absEtc())
                    .symlink("localetc", "/dummy/etc")
                    .file("/dummy/etc/unbroken", "unbroken"),
            BreakoutCases::unbroken));
    c.add(
        ok(
            o,
            "SymlinkMultipleRelative",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .dir("dummy")
                    .symlink("/dummy/etc", h.absEtc())
                    .symlink("localetc", "./dummy/etc")
                    .file("/dummy/etc/unbroken", "unbroken"),
            BreakoutCases::unbroken));
    c.add(
        ok(
            o,
            "SymlinkEmptyFile",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .file(h.etc() + "/emptied", "notempty")
                    .symlink("localetc", h.absEtc())
                    .file("/localetc/emptied", ""),
            h -> root -> assertContent(root, h.etc() + "/emptied", "")));
    c.add(
        ok(
            o,
            "HardlinkRelative",
            null,
            h ->
                withEtc(h)
                    .dir("breakouts")
                    .symlink("breakouts/d1", "../../" + h.up() + h.etc())
                    .hardlink("breakouts/mypasswd", "/breakouts/d1/passwd"),
            h -> samePasswd(h, "breakouts/mypasswd")));
    c.add(
        ok(
            o,
            "HardlinkDownAndOut",
            null,
            h ->
                withEtc(h)
                    .dir("breakouts")
                    .dir("downandout")
                    .symlink("breakouts/d1", "../downandout/../../" + h.up() + h.etc())
                    .hardlink("breakouts/mypasswd", "/breakouts/d1/passwd"),
            h -> samePasswd(h, "breakouts/mypasswd")));
    c.add(
        ok(
            o,
            "HardlinkAbsolute",
            null,
            h ->
                withEtc(h)
                    .symlink("localetc", h.absEtc())
                    .hardlink("localpasswd", "/localetc/passwd"),
            h -> samePasswd(h, "localpasswd")));
    c.add(
        ok(
            o,
            "HardlinkRelativeLong",
            null,
            h ->
                withEtc(h)
                    .symlink("localetc", "../../../../../../../" + h.up() + h.etc())
                    .hardlink("localpasswd", "/localetc/passwd"),
            h -> samePasswd(h, "localpasswd")));
    // containerd cleans "upandout/.." lexically and links. layerd resolves as the kernel does (and
    // as the container will): "upandout" does not exist, so neither does localetc/passwd, and the
    // hardlink is refused. Both are confined; layerd's "HardlinkRelativeUpAndOutExisting" below
    // shows the link made when the directory exists.
    c.add(
        invalid(
            o,
            "HardlinkRelativeUpAndOut",
            null,
            h ->
                withEtc(h)
                    .symlink("localetc", "upandout/../../../" + h.up() + h.etc())
                    .hardlink("localpasswd", "/localetc/passwd"),
            h -> root -> assertAbsent(root, "localpasswd")));
    c.add(
        ok(
            o,
            "HardlinkDirectRelative",
            null,
            h ->
                withEtc(h)
                    .hardlink("localpasswd", "../../../../../" + h.up() + h.etc() + "/passwd"),
            h -> samePasswd(h, "localpasswd")));
    c.add(
        ok(
            o,
            "HardlinkDirectAbsolute",
            null,
            h -> withEtc(h).hardlink("localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "localpasswd")));
    c.add(
        ok(
            o,
            "SymlinkParentDirectory",
            null,
            h ->
                withEtc(h)
                    .symlink("..", h.absEtc() + "/")
                    .hardlink("localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "/localpasswd")));
    c.add(
        ok(
            o,
            "SymlinkEmptyFilename",
            null,
            h ->
                withEtc(h)
                    .symlink("", h.absEtc() + "/")
                    .hardlink("localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "/localpasswd")));
    c.add(
        ok(
            o,
            "SymlinkParentRelative",
            null,
            h ->
                withEtc(h)
                    .symlink("localetc/sub/..", h.absEtc() + "/")
                    .hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "/localetc/localpasswd")));
    c.add(
        ok(
            o,
            "SymlinkSlashEnded",
            null,
            h ->
                withEtc(h)
                    .dir("localetc/")
                    .hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "/localetc/localpasswd")));
    c.add(
        ok(
            o,
            "SymlinkOverrideDirectory",
            h -> withEtc(h).dir("localetc/"),
            h ->
                tar()
                    .symlink("localetc", h.absEtc())
                    .hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h ->
                all(
                    samePasswd(h, "/localetc/localpasswd"),
                    root -> assertSymlink(root, "localetc", h.absEtc()))));
    c.add(
        ok(
            o,
            "SymlinkOverrideDirectoryRelative",
            h -> withEtc(h).dir("localetc/"),
            h ->
                tar()
                    .symlink("localetc", "../../" + h.up() + h.etc())
                    .hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h -> samePasswd(h, "/localetc/localpasswd")));
    c.add(
        ok(
            o,
            "DirectoryOverrideSymlink",
            h -> withEtc(h).symlink("localetc", h.absEtc()),
            h -> tar().dir("/localetc/").hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h ->
                all(
                    samePasswd(h, "/localetc/localpasswd"),
                    root -> assertDirectory(root, "localetc"))));
    c.add(
        ok(
            o,
            "DirectoryOverrideSymlinkAndHardlink",
            h ->
                withEtc(h)
                    .symlink("localetc", h.etc())
                    .hardlink("/localetc/localpasswd", h.absEtc() + "/passwd"),
            h -> tar().dir("/localetc/").file("/localetc/localpasswd", "different"),
            h ->
                root -> {
                  assertNotSameFile(root, "/localetc/localpasswd", h.etc() + "/passwd");
                  assertContent(root, "/localetc/localpasswd", "different");
                  assertContent(root, h.etc() + "/passwd", "inside");
                  assertContent(root, h.etc() + "/localpasswd", "inside");
                }));
    for (String[] w :
        new String[][] {
          {"WhiteoutRootParent", ".wh..."},
          {"WhiteoutParent", "%s/.wh..."},
          {"WhiteoutRoot", ".wh.."},
          {"WhiteoutCurrentDirectory", "%s/.wh.."}
        }) {
      c.add(
          invalid(
              o,
              w[0],
              BreakoutCases::withEtc,
              h -> tar().file(String.format(w[1], h.etc()), ""),
              h -> root -> assertContent(root, h.etc() + "/passwd", "inside")));
    }
    c.add(
        ok(
            o,
            "WhiteoutSymlink",
            h -> withEtc(h).symlink("localetc", h.absEtc()),
            h -> tar().file(".wh.localetc", ""),
            h ->
                root -> {
                  assertContent(root, h.etc() + "/passwd", "inside");
                  assertAbsent(root, "localetc");
                }));
    c.add(
        ok(
            o,
            "WhiteoutSymlinkPath",
            h ->
                withEtc(h).file(h.etc() + "/whitedout", "whiteout").symlink("localetc", h.absEtc()),
            h -> tar().file("localetc/.wh.whitedout", ""),
            // Like containerd: the whiteout's directory resolves in the root, through the symlink.
            h ->
                root -> {
                  assertContent(root, h.etc() + "/passwd", "inside");
                  assertAbsent(root, h.etc() + "/whitedout");
                }));
    c.add(
        ok(
            o,
            "WhiteoutDirectoryName",
            h ->
                withEtc(h).file(h.etc() + "/whitedout", "whiteout").symlink("localetc", h.absEtc()),
            h -> tar().file(".wh.etc/somefile", "non-empty"),
            h ->
                root -> {
                  assertContent(root, h.etc() + "/passwd", "inside");
                  assertContent(root, ".wh.etc/somefile", "non-empty");
                }));
    c.add(
        ok(
            o,
            "WhiteoutDeadSymlinkParent",
            h -> withEtc(h).symlink("localetc", h.absEtc() + "/dne"),
            h -> tar().file("localetc/.wh.passwd", ""),
            h ->
                root -> {
                  assertContent(root, h.etc() + "/passwd", "inside");
                  assertAbsent(root, h.etc() + "/dne");
                }));
    c.add(
        ok(
            o,
            "WhiteoutRelativePath",
            h -> withEtc(h).symlink("localetc", h.absEtc() + "/dne"),
            h -> {
              Path etc = Path.of(h.etc());
              return tar().file("dne/../" + etc.getParent() + "/.wh." + etc.getFileName(), "");
            },
            h ->
                root -> {
                  assertAbsent(root, h.etc());
                  assertDirectory(root, Path.of(h.etc()).getParent().toString());
                }));
    c.add(
        ok(
            o,
            "SymlinkOverridePath",
            null,
            h ->
                tar()
                    .dir("foo")
                    .dir("foo/" + h.etc())
                    .file("foo/" + h.etc() + "/b", "first")
                    .symlink("foo", "/")
                    .file("foo/" + h.etc() + "/b", "through the link")
                    .dir("foo")
                    .dir("foo/" + h.etc())
                    .file("foo/" + h.etc() + "/b", "last"),
            h ->
                root -> {
                  assertDirectory(root, "foo");
                  assertContent(root, "foo/" + h.etc() + "/b", "last");
                  assertContent(root, h.etc() + "/b", "through the link");
                }));
    c.add(
        ok(
            o,
            "HardlinkSymlinkBeforeCreateTarget",
            null,
            h ->
                tar()
                    .dir(h.etc())
                    .symlink("localpasswd", h.absEtc() + "/passwd")
                    .hardlink("localpasswd-dup", "localpasswd")
                    .file(h.absEtc() + "/passwd", "after"),
            h ->
                root -> {
                  assertSameSymlink(root, "localpasswd-dup", "localpasswd");
                  assertSymlink(root, "localpasswd-dup", h.absEtc() + "/passwd");
                  assertSameFile(root, "localpasswd-dup", h.etc() + "/passwd");
                  assertContent(root, "localpasswd-dup", "after");
                }));
    c.add(
        ok(
            o,
            "HardlinkSymlinkRelative",
            null,
            h ->
                withEtc(h)
                    .symlink("passwdlink", "../../../../../" + h.up() + h.etc() + "/passwd")
                    .hardlink("localpasswd", "/passwdlink"),
            h ->
                all(
                    root -> assertSameSymlink(root, "localpasswd", "passwdlink"),
                    samePasswd(h, "localpasswd"))));
    c.add(
        ok(
            o,
            "HardlinkSymlinkAbsolute",
            null,
            h ->
                withEtc(h)
                    .symlink("passwdlink", h.absEtc() + "/passwd")
                    .hardlink("localpasswd", "/passwdlink"),
            h ->
                all(
                    root -> assertSameSymlink(root, "localpasswd", "passwdlink"),
                    samePasswd(h, "localpasswd"))));
    c.add(
        ok(
            o,
            "HardlinkSymlinkChmod",
            null,
            // CVE-2021-32760: a symlink named like a host file, pointing at another host file, and
            // a hardlink to it with a mode: an applier that chmods the hardlink follows the
            // symlink.
            h ->
                tar()
                    .symlink(h.absEtc() + "/also-exists-outside-root", h.absEtc() + "/perm400")
                    .hardlink("sketchylink", h.absEtc() + "/also-exists-outside-root")
                    .mode(0777),
            h ->
                root -> {
                  assertSymlink(root, "sketchylink", h.absEtc() + "/perm400");
                  assertSameSymlink(root, "sketchylink", h.etc() + "/also-exists-outside-root");
                }));
    return c;
  }

  /** moby go-archive: breakouts beside victim/hello, invalid names, hardlinks and symlinks. */
  static List<Case> moby() {
    String o = "moby";
    List<Case> c = new ArrayList<>();
    c.add(
        ok(
            o,
            "FileDotdot",
            null,
            h -> tar().file("../victim/dotdot", "x"),
            h -> root -> assertContent(root, "victim/dotdot", "x")));
    c.add(
        ok(
            o,
            "FileSlashDotdot",
            null,
            h -> tar().file("/../victim/slash-dotdot", "x"),
            h -> root -> assertContent(root, "victim/slash-dotdot", "x")));
    c.add(
        ok(
            o,
            "FileNamedDotdot",
            null,
            h -> tar().file("..", "x"),
            h -> root -> assertDirectory(root, ".")));
    c.add(
        ok(
            o,
            "FilePwned",
            null,
            h -> tar().file("../pwned", "x"),
            h -> root -> assertContent(root, "pwned", "x")));
    c.add(
        ok(
            o,
            "FilePwnedTwoUp",
            null,
            h -> tar().file("../../pwned", "x"),
            h -> root -> assertContent(root, "pwned", "x")));
    c.add(
        invalid(
            o,
            "HardlinkDotdot",
            null,
            h -> tar().hardlink("dotdot", "../victim/hello"),
            h -> root -> assertAbsent(root, "dotdot")));
    c.add(
        ok(
            o,
            "HardlinkDotdotDecoy",
            h -> tar().dir("victim").file("victim/hello", "inside hello"),
            h -> tar().hardlink("dotdot", "../victim/hello"),
            h ->
                root -> {
                  assertSameFile(root, "dotdot", "victim/hello");
                  assertContent(root, "dotdot", "inside hello");
                }));
    c.add(
        invalid(
            o,
            "HardlinkSlashDotdot",
            null,
            h -> tar().hardlink("slash-dotdot", "/../victim/hello"),
            h -> root -> assertAbsent(root, "slash-dotdot")));
    c.add(
        invalid(
            o,
            "HardlinkLoopholeWrite",
            null,
            h -> tar().hardlink("loophole-victim", "../victim").file("loophole-victim/file", "x"),
            h -> root -> assertAbsent(root, "loophole-victim")));
    c.add(
        invalid(
            o,
            "HardlinkLoopholeDirectory",
            h -> tar().dir("victim").file("victim/hello", "inside hello"),
            h -> tar().hardlink("loophole-victim", "../victim").file("loophole-victim/file", "x"),
            h -> root -> assertAbsent(root, "loophole-victim")));
    c.add(
        invalid(
            o,
            "HardlinkLoopholeSymlink",
            null,
            h ->
                tar()
                    .hardlink("loophole-victim", "../victim")
                    .symlink("symlink", "loophole-victim/hello"),
            h -> root -> assertAbsent(root, "symlink")));
    c.add(
        invalid(
            o,
            "HardlinkLoopholeHardlink",
            null,
            h ->
                tar()
                    .hardlink("loophole-victim", "../victim")
                    .hardlink("hardlink", "loophole-victim/hello"),
            h -> root -> assertAbsent(root, "hardlink")));
    c.add(
        invalid(
            o,
            "HardlinkLoopholeRemove",
            null,
            h -> tar().hardlink("loophole-victim", "../victim").file("loophole-victim", "x"),
            h -> root -> assertAbsent(root, "loophole-victim")));
    c.add(
        ok(
            o,
            "SymlinkDotdot",
            null,
            h -> tar().symlink("dotdot", "../victim/hello"),
            h -> root -> assertSymlink(root, "dotdot", "../victim/hello")));
    c.add(
        ok(
            o,
            "SymlinkSlashDotdot",
            null,
            h -> tar().symlink("slash-dotdot", "/../victim/hello"),
            h -> root -> assertSymlink(root, "slash-dotdot", "/../victim/hello")));
    c.add(
        ok(
            o,
            "SymlinkLoopholeWrite",
            null,
            h -> tar().symlink("loophole-victim", "../victim").file("loophole-victim/file", "x"),
            h -> root -> assertContent(root, "victim/file", "x")));
    c.add(
        ok(
            o,
            "SymlinkLoopholeSymlink",
            null,
            h ->
                tar()
                    .symlink("loophole-victim", "../victim")
                    .symlink("symlink", "loophole-victim/hello"),
            h -> root -> assertSymlink(root, "symlink", "loophole-victim/hello")));
    c.add(
        invalid(
            o,
            "SymlinkLoopholeHardlink",
            null,
            h ->
                tar()
                    .symlink("loophole-victim", "../victim")
                    .hardlink("hardlink", "loophole-victim/hello"),
            h -> root -> assertAbsent(root, "hardlink")));
    c.add(
        ok(
            o,
            "SymlinkLoopholeRemove",
            null,
            h -> tar().symlink("loophole-victim", "../victim").file("loophole-victim", "x"),
            h -> root -> assertContent(root, "loophole-victim", "x")));
    c.add(
        ok(
            o,
            "SymlinkInPathNewDir",
            null,
            h ->
                tar()
                    .symlink("dir/loophole", "../../victim")
                    .file("dir/loophole/newdir/newfile", "x"),
            h -> root -> assertContent(root, "victim/newdir/newfile", "x")));
    c.add(
        invalid(
            o,
            "HardlinkPrefixLookalike",
            null,
            h -> tar().hardlink("grab", "../root-evil/secret"),
            h -> root -> assertAbsent(root, "grab")));
    c.add(
        ok(
            o,
            "SymlinkTwoHops",
            null,
            h ->
                tar()
                    .dir("inner/")
                    .symlink("inner/go_up", "..")
                    .symlink("inner/go_up/escape", "../victim")
                    .file("inner/go_up/escape/newfile", "x"),
            h ->
                root -> {
                  assertSymlink(root, "escape", "../victim");
                  assertContent(root, "victim/newfile", "x");
                }));
    c.add(
        ok(
            o,
            "PreexistingEscapeLinks",
            h -> tar().symlink("escape", "..").symlink("absolute", h.absEtc() + "/target"),
            h -> tar().file("escape/absolute/file", "x"),
            h -> root -> assertContent(root, h.etc() + "/target/file", "x")));
    c.add(
        ok(
            o,
            "PreexistingVarRun",
            h ->
                tar()
                    .dir("var/")
                    .symlink("var/run", h.absEtc() + "/run")
                    .dir(h.etc() + "/run/existing/"),
            h -> tar().file("var/run/existing/non-existing/file", "x"),
            h ->
                root -> {
                  assertSymlink(root, "var/run", h.absEtc() + "/run");
                  assertContent(root, h.etc() + "/run/existing/non-existing/file", "x");
                }));
    c.add(
        ok(
            o,
            "AbsoluteHardlinkKaniko",
            h -> tar().dir("usr/bin/").file("usr/bin/perlbug", "#!/usr/bin/perl"),
            h -> tar().hardlink("usr/bin/perlthanks", "/usr/bin/perlbug"),
            h -> root -> assertSameFile(root, "usr/bin/perlthanks", "usr/bin/perlbug")));
    c.add(
        ok(
            o,
            "LowerSymlinkParent",
            h -> tar().dir("usr/lib/").symlink("lib", "usr/lib"),
            h -> tar().file("lib/systemd/system/layerd.service", "[Unit]"),
            h ->
                root -> {
                  assertSymlink(root, "lib", "usr/lib");
                  assertFile(root, "usr/lib/systemd/system/layerd.service");
                }));
    return c;
  }

  /** layerd's own variants of peer cases, where layerd's answer differs from the peer's. */
  static List<Case> layerd() {
    String o = "layerd";
    List<Case> c = new ArrayList<>();
    c.add(
        ok(
            o,
            "HardlinkRelativeUpAndOutExisting",
            null,
            h ->
                withEtc(h)
                    .dir("upandout")
                    .symlink("localetc", "upandout/../../../" + h.up() + h.etc())
                    .hardlink("localpasswd", "/localetc/passwd"),
            h -> samePasswd(h, "localpasswd")));
    return c;
  }

  /** umoci: names and pre-existing links that climb out, all landing at the root. */
  static List<Case> umoci() {
    String o = "umoci";
    List<Case> c = new ArrayList<>();
    c.add(
        ok(
            o,
            "SlashDotdotFile",
            null,
            h -> tar().file("/../file", "x"),
            h -> root -> assertContent(root, "file", "x")));
    c.add(
        ok(
            o,
            "DotdotFile",
            null,
            h -> tar().file("../file", "x"),
            h -> root -> assertContent(root, "file", "x")));
    for (String[] l :
        new String[][] {
          {"LinkToRoot", "/"},
          {"LinkToRootDotdot", "/../"},
          {"LinkToRootDotsMixed", "/./.././../."},
        }) {
      c.add(
          ok(
              o,
              l[0],
              h -> tar().symlink("link", l[1]),
              h -> tar().file("link/" + h.etc() + "/file", "x"),
              h -> root -> assertContent(root, h.etc() + "/file", "x")));
    }
    c.add(
        ok(
            o,
            "LinkToParent",
            h -> tar().symlink("link", ".."),
            h -> tar().file("link/victim/file", "x"),
            h -> root -> assertContent(root, "victim/file", "x")));
    return c;
  }
}
