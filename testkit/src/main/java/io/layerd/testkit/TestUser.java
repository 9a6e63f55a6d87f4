package io.layerd.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A real unprivileged user of this machine, with subordinate uid and gid ranges in {@code
 * /etc/subuid} and {@code /etc/subgid}: the user that layerd's "unprivileged" and "rootless" tests
 * run as (see {@link ChildJvm}).
 *
 * <p>{@link #standard()} is {@value #STANDARD_NAME} with exactly {@value #STANDARD_IDS} subordinate
 * ids, the shape {@code useradd} gives every user on Debian; {@link #withIds(String, long)} is a
 * user whose range holds at least a given number of ids. Both create the user (as root: they call
 * {@link Require#root()}) with {@code useradd -m -s /bin/bash} when it is missing and fix its
 * ranges with {@code usermod --add-subuids/--del-subuids} when they do not fit, choosing a start
 * that overlaps no other entry. They are idempotent, thread-safe, serialised across JVMs by a lock
 * file, and cached per JVM.
 *
 * <p>Instances are immutable snapshots of the user and its (single) ranges.
 */
public final class TestUser {
  /** The name of {@link #standard()}. */
  public static final String STANDARD_NAME = "layerd-test";

  /** The number of subordinate ids of {@link #standard()}: Debian's {@code SUB_UID_COUNT}. */
  public static final long STANDARD_IDS = 65_536;

  private static final Path SUBUID = Path.of("/etc/subuid");
  private static final Path SUBGID = Path.of("/etc/subgid");

  /** Where new ranges start at the lowest (login.defs SUB_UID_MIN), and their alignment. */
  private static final long FIRST_SUBORDINATE_ID = 100_000;

  private static final long ALIGNMENT = 65_536;

  private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_-]{0,30}");
  private static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(1);
  private static final Map<String, TestUser> CACHE = new HashMap<>();

  private final String name;
  private final long uid;
  private final long gid;
  private final Path home;
  private final long subuidStart;
  private final long subuidCount;
  private final long subgidStart;
  private final long subgidCount;

  private TestUser(String name, long uid, long gid, Path home, Range subuid, Range subgid) {
    this.name = name;
    this.uid = uid;
    this.gid = gid;
    this.home = home;
    this.subuidStart = subuid.start;
    this.subuidCount = subuid.count;
    this.subgidStart = subgid.start;
    this.subgidCount = subgid.count;
  }

  /**
   * The standard test user {@value #STANDARD_NAME}, with one range of exactly {@value
   * #STANDARD_IDS} subordinate uids and gids.
   */
  public static TestUser standard() {
    return ensure(STANDARD_NAME, STANDARD_IDS, true);
  }

  /**
   * A test user named {@code name} whose subordinate uid and gid ranges (one each) hold at least
   * {@code count} ids, e.g. {@code withIds("layerd-big", 300_000)} for images whose files belong to
   * uids beyond 65,535. {@value #STANDARD_NAME} is reserved for {@link #standard()}.
   */
  public static TestUser withIds(String name, long count) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("not a valid user name: '" + name + "'");
    }
    if (count < 1 || count > 1L << 31) {
      throw new IllegalArgumentException("a subordinate id count must be in 1..2^31: " + count);
    }
    if (name.equals(STANDARD_NAME) && count != STANDARD_IDS) {
      throw new IllegalArgumentException(
          STANDARD_NAME + " always has " + STANDARD_IDS + " ids: use another name");
    }
    return ensure(name, count, name.equals(STANDARD_NAME));
  }

  /** The login name. */
  public String name() {
    return name;
  }

  /** The user id. */
  public long uid() {
    return uid;
  }

  /** The primary group id. */
  public long gid() {
    return gid;
  }

  /** Gives {@code path} (not a symlink's target) to this user and its group; needs root. */
  public void own(Path path) throws IOException {
    Files.setAttribute(path, "unix:uid", (int) uid, LinkOption.NOFOLLOW_LINKS);
    Files.setAttribute(path, "unix:gid", (int) gid, LinkOption.NOFOLLOW_LINKS);
  }

  /** The home directory (it exists and belongs to the user). */
  public Path home() {
    return home;
  }

  /** The first subordinate uid (from /etc/subuid). */
  public long subuidStart() {
    return subuidStart;
  }

  /** The number of subordinate uids. */
  public long subuidCount() {
    return subuidCount;
  }

  /** The first subordinate gid (from /etc/subgid). */
  public long subgidStart() {
    return subgidStart;
  }

  /** The number of subordinate gids. */
  public long subgidCount() {
    return subgidCount;
  }

  @Override
  public String toString() {
    return String.format(
        "%s(uid=%d, gid=%d, subuid=%d+%d, subgid=%d+%d)",
        name, uid, gid, subuidStart, subuidCount, subgidStart, subgidCount);
  }

  // ------------------------------------------------------------------ set-up

  private static synchronized TestUser ensure(String name, long count, boolean exact) {
    Require.root();
    TestUser cached = CACHE.get(name);
    if (cached != null
        && fits(new Range(name, cached.subuidStart, cached.subuidCount), count, exact)
        && fits(new Range(name, cached.subgidStart, cached.subgidCount), count, exact)) {
      return cached;
    }
    try {
      TestUser u = ensureLocked(name, count, exact);
      CACHE.put(name, u);
      return u;
    } catch (IOException e) {
      throw new UncheckedIOException("could not set up the test user " + name, e);
    }
  }

  /** Serialises set-up with other JVMs (other modules' tests run concurrently). */
  private static TestUser ensureLocked(String name, long count, boolean exact) throws IOException {
    Path lockFile = Path.of(Files.isDirectory(Path.of("/run/lock")) ? "/run/lock" : "/tmp");
    lockFile = lockFile.resolve("layerd-testuser.lock");
    try (FileChannel ch =
        FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      FileLock lock = ch.lock();
      try {
        return ensureWithLock(name, count, exact);
      } finally {
        lock.release();
      }
    }
  }

  private static TestUser ensureWithLock(String name, long count, boolean exact)
      throws IOException {
    String[] pw = passwd(name);
    if (pw == null) {
      run(List.of("useradd", "-m", "-s", "/bin/bash", name), 9); // 9: created meanwhile
      pw = passwd(name);
      if (pw == null) {
        throw new IOException("useradd " + name + " succeeded but getent does not find it");
      }
    }
    long uid = Long.parseLong(pw[2]);
    long gid = Long.parseLong(pw[3]);
    Path home = Path.of(pw[5]);
    if (!Files.isDirectory(home)) {
      throw new IOException("the home directory " + home + " of " + name + " does not exist");
    }
    for (int attempt = 0; ; attempt++) {
      Range u = fixRanges(name, uid, count, exact);
      Range g = single(read(SUBGID), name, uid);
      String clash = overlap(read(SUBUID), name, uid, u);
      if (clash == null) {
        clash = overlap(read(SUBGID), name, uid, g);
      }
      if (clash == null) {
        return new TestUser(name, uid, gid, home, u, g);
      }
      if (attempt >= 3) {
        throw new IOException("the subordinate ids of " + name + " overlap " + clash);
      }
      // Someone added an entry at the same time: drop ours and pick again.
      removeRanges(name, uid, true, true);
    }
  }

  /** Makes sure the user has one fitting range in each file; returns the uid range. */
  private static Range fixRanges(String name, long uid, long count, boolean exact)
      throws IOException {
    List<Range> us = owned(read(SUBUID), name, uid);
    List<Range> gs = owned(read(SUBGID), name, uid);
    boolean uidOk = us.size() == 1 && fits(us.get(0), count, exact);
    boolean gidOk = gs.size() == 1 && fits(gs.get(0), count, exact);
    if (!uidOk || !gidOk) {
      removeRanges(name, uid, !uidOk, !gidOk);
      long start = freeStart();
      String range = start + "-" + (start + count - 1);
      List<String> cmd = new ArrayList<>(List.of("usermod"));
      if (!uidOk) {
        cmd.addAll(List.of("--add-subuids", range));
      }
      if (!gidOk) {
        cmd.addAll(List.of("--add-subgids", range));
      }
      cmd.add(name);
      run(cmd);
    }
    Range u = single(read(SUBUID), name, uid);
    Range g = single(read(SUBGID), name, uid);
    if (!fits(u, count, exact) || !fits(g, count, exact)) {
      throw new IOException(
          "usermod left " + name + " with ranges " + u + " and " + g + ", wanted " + count);
    }
    return u;
  }

  private static void removeRanges(String name, long uid, boolean uids, boolean gids)
      throws IOException {
    List<String> cmd = new ArrayList<>(List.of("usermod"));
    if (uids) {
      for (Range r : owned(read(SUBUID), name, uid)) {
        cmd.addAll(List.of("--del-subuids", r.start + "-" + (r.start + r.count - 1)));
      }
    }
    if (gids) {
      for (Range r : owned(read(SUBGID), name, uid)) {
        cmd.addAll(List.of("--del-subgids", r.start + "-" + (r.start + r.count - 1)));
      }
    }
    if (cmd.size() > 1) {
      cmd.add(name);
      run(cmd);
    }
  }

  private static boolean fits(Range r, long count, boolean exact) {
    return exact ? r.count == count : r.count >= count;
  }

  /** The first aligned id above every range of both files (and above SUB_UID_MIN). */
  private static long freeStart() throws IOException {
    long end = FIRST_SUBORDINATE_ID;
    for (Path p : List.of(SUBUID, SUBGID)) {
      for (Range r : read(p)) {
        end = Math.max(end, r.start + r.count);
      }
    }
    return (end + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
  }

  private static String overlap(List<Range> all, String name, long uid, Range mine) {
    for (Range r : all) {
      boolean ours = r.owner.equals(name) || r.owner.equals(Long.toString(uid));
      if (!ours && r.start < mine.start + mine.count && mine.start < r.start + r.count) {
        return r.toString();
      }
    }
    return null;
  }

  private static Range single(List<Range> ranges, String name, long uid) throws IOException {
    List<Range> mine = owned(ranges, name, uid);
    if (mine.size() != 1) {
      throw new IOException("expected one subordinate range for " + name + ", found " + mine);
    }
    return mine.get(0);
  }

  private static List<Range> owned(List<Range> ranges, String name, long uid) {
    List<Range> out = new ArrayList<>();
    for (Range r : ranges) {
      if (r.owner.equals(name) || r.owner.equals(Long.toString(uid))) {
        out.add(r);
      }
    }
    return out;
  }

  /** One line of /etc/subuid or /etc/subgid: owner (name or id), first id, count. */
  private record Range(String owner, long start, long count) {
    @Override
    public String toString() {
      return owner + ":" + start + ":" + count;
    }
  }

  private static List<Range> read(Path file) throws IOException {
    List<Range> out = new ArrayList<>();
    if (!Files.exists(file)) {
      return out;
    }
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String[] f = line.strip().split(":");
      if (f.length != 3 || f[0].startsWith("#")) {
        continue;
      }
      try {
        out.add(new Range(f[0], Long.parseLong(f[1]), Long.parseLong(f[2])));
      } catch (NumberFormatException e) {
        // not an entry; the tools ignore it too
      }
    }
    return out;
  }

  /** The passwd fields of a user, or null when there is none. */
  private static String[] passwd(String name) throws IOException {
    List<String> cmd = List.of("getent", "passwd", name);
    Exec.Outcome o = Exec.run(cmd, COMMAND_TIMEOUT);
    if (o.exitCode() == 2) {
      return null;
    }
    if (!o.ok()) {
      throw new IOException(o.describe(cmd));
    }
    String[] f = o.stdout().strip().split(":", -1);
    if (f.length < 7) {
      throw new IOException("cannot parse the passwd entry of " + name + ": " + o.stdout());
    }
    return f;
  }

  private static void run(List<String> cmd, int... alsoOk) throws IOException {
    Exec.Outcome o = Exec.run(cmd, COMMAND_TIMEOUT);
    if (o.ok()) {
      return;
    }
    for (int code : alsoOk) {
      if (o.exitCode() == code) {
        return;
      }
    }
    throw new IOException(o.describe(cmd));
  }
}
