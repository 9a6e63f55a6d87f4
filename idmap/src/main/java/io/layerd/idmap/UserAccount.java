package io.layerd.idmap;

import io.layerd.idmap.internal.Ids;
import io.layerd.sys.Sys;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A user as the host knows it: name, uid and primary gid. Subordinate ranges are looked up by both
 * the name and the uid, as shadow does.
 *
 * @param name the login name; when no name is known, the uid as a decimal string (which still
 *     matches numeric lines of {@code /etc/subuid})
 * @param uid the host uid
 * @param gid the host primary gid
 */
public record UserAccount(String name, long uid, long gid) {
  private static final Path PASSWD = Path.of("/etc/passwd");

  public UserAccount {
    Objects.requireNonNull(name, "name");
  }

  /** True when the account's name is only its uid (no name was found). */
  public boolean unnamed() {
    return name.equals(Long.toString(uid));
  }

  /**
   * The user this process runs as, on the host: inside a user namespace (rootlesskit, or layerd's
   * own re-exec) that is the host id the namespace maps this process's uid to, found through {@code
   * /proc/self/uid_map}; the name comes from {@link #lookup(long)}.
   */
  public static UserAccount current() throws IOException {
    IdMappings maps = IdMappings.current();
    long uid = hostId(maps.uids(), Sys.getuid());
    long gid = hostId(maps.gids(), Sys.getgid());
    Optional<UserAccount> found = lookup(uid);
    return new UserAccount(found.map(UserAccount::name).orElse(Long.toString(uid)), uid, gid);
  }

  private static long hostId(IdMapping map, long id) {
    long h = map.hostIdOf(id);
    return h < 0 ? id : h;
  }

  /** The account with this uid: {@code /etc/passwd}, then {@code getent passwd} (NSS, LDAP). */
  public static Optional<UserAccount> lookup(long uid) throws IOException {
    Optional<UserAccount> u = lookup(uid, PASSWD);
    return u.isPresent() ? u : getent(Long.toString(uid));
  }

  /** The account with this name: {@code /etc/passwd}, then {@code getent passwd}. */
  public static Optional<UserAccount> byName(String name) throws IOException {
    Optional<UserAccount> u = byName(name, PASSWD);
    return u.isPresent() ? u : getent(name);
  }

  /** The account with this uid in a passwd-format file (for tests and other roots). */
  public static Optional<UserAccount> lookup(long uid, Path passwd) throws IOException {
    return find(passwd, null, uid);
  }

  /** The account with this name in a passwd-format file. */
  public static Optional<UserAccount> byName(String name, Path passwd) throws IOException {
    return find(passwd, name, -1);
  }

  private static Optional<UserAccount> find(Path passwd, String name, long uid) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(passwd, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    for (String line : lines) {
      Optional<UserAccount> u = parsePasswdLine(line);
      if (u.isPresent() && (name != null ? u.get().name.equals(name) : u.get().uid == uid)) {
        return u;
      }
    }
    return Optional.empty();
  }

  /** {@code name:password:uid:gid:gecos:home:shell}; empty for comments and bad lines. */
  static Optional<UserAccount> parsePasswdLine(String line) {
    if (line.isEmpty() || line.startsWith("#")) {
      return Optional.empty();
    }
    String[] f = line.split(":", -1);
    if (f.length < 4 || f[0].isEmpty()) {
      return Optional.empty();
    }
    try {
      long uid = Long.parseLong(f[2]);
      long gid = Long.parseLong(f[3]);
      return Ids.valid(uid) && Ids.valid(gid)
          ? Optional.of(new UserAccount(f[0], uid, gid))
          : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static Optional<UserAccount> getent(String key) {
    try {
      Process p =
          new ProcessBuilder("getent", "passwd", key)
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      String out;
      try (InputStream in = p.getInputStream()) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        in.transferTo(buf);
        out = buf.toString(StandardCharsets.UTF_8);
      }
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroy();
        return Optional.empty();
      }
      return parsePasswdLine(out.strip());
    } catch (IOException e) {
      return Optional.empty(); // no getent: /etc/passwd was all there is
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /** {@code 1001 ("testuser")}, as rootlesskit names a user. */
  @Override
  public String toString() {
    return unnamed() ? Long.toString(uid) : uid + " (\"" + name + "\")";
  }
}
