package io.layerd.idmap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.IdRange;
import io.layerd.idmap.IdRemapper;
import io.layerd.idmap.Owner;
import io.layerd.idmap.RangeOrigin;
import io.layerd.idmap.SubIdRange;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UnmappedIdException;
import io.layerd.idmap.UnmappedIdPolicy;
import io.layerd.idmap.UserAccount;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;

/**
 * With a real unprivileged user and real /etc/subuid and /etc/subgid ranges (made by the testkit):
 * the mapping seen from inside a namespace, the precise error for uid 70000 against 65,536 ids,
 * chown to mapped ids, a bigger range that fits, layerd's own re-exec, and the doctor.
 */
class UserNamespaceTest {
  /** A user whose range holds uid 70000 (two blocks). */
  private static final String BIG_USER = "layerd-idmap-big";

  private Path dir;

  /** A directory the test user can write in, removed afterwards. */
  private Path dirFor(TestUser user) throws IOException {
    dir = Files.createTempDirectory(Path.of("/tmp"), "layerd-idmap-");
    Sys.lchown(bytes(dir), user.uid(), user.gid());
    return dir;
  }

  @AfterEach
  void removeDir() throws IOException {
    if (dir != null) {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static byte[] bytes(Path p) {
    return p.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static String s(long v) {
    return Long.toString(v);
  }

  // ------------------------------------------------------------------ the mapping from inside

  @UserNsTest
  void mappingSeenFromInsideUnshare() {
    TestUser u = TestUser.standard();
    ChildJvm.call(
            u,
            Mode.USER_NAMESPACE,
            UserNamespaceTest::insideUnshare,
            s(u.uid()),
            s(u.gid()),
            s(u.subuidStart()),
            s(u.subgidStart()),
            s(u.subuidCount()))
        .assertSuccess();
  }

  static void insideUnshare(String[] a) throws IOException {
    long uid = Long.parseLong(a[0]);
    long gid = Long.parseLong(a[1]);
    long subuid = Long.parseLong(a[2]);
    long subgid = Long.parseLong(a[3]);
    long count = Long.parseLong(a[4]);
    assertTrue(RootlessNamespace.inUserNamespace());
    assertEquals(0, Sys.getuid());
    // unshare --map-root-user --map-auto: the first range less one id
    IdMappings m = IdMappings.current();
    assertEquals(IdMapping.of(new IdRange(0, uid, 1), new IdRange(1, subuid, count - 1)), m.uids());
    assertEquals(IdMapping.of(new IdRange(0, gid, 1), new IdRange(1, subgid, count - 1)), m.gids());
    UserAccount me = UserAccount.current();
    assertEquals(new UserAccount(TestUser.STANDARD_NAME, uid, gid), me);
    SubordinateIds ids = SubordinateIds.load(me);
    List<RangeOrigin> o = ids.explain(IdKind.UID, m.uids());
    assertEquals("(layerd-test's own uid)", o.get(0).description());
    SubIdRange line = ids.ranges(IdKind.UID).get(0);
    assertEquals(List.of(line), o.get(1).lines());
    assertTrue(o.get(1).description().startsWith("from /etc/subuid:" + line.line()));
    assertEquals(
        RootlessNamespace.Decision.INSIDE, RootlessNamespace.plan(RootlessMode.TRUE).decision());
    EffectiveMapping eff = EffectiveMapping.resolve(RootlessMode.AUTO);
    assertEquals(m, eff.mappings());
  }

  // ------------------------------------------------------------------ unmapped ids, chown

  @UserNsTest
  void uid70000Against65536IdsGivesThePreciseErrorWhileMappedIdsChown() throws IOException {
    TestUser u = TestUser.standard();
    Path d = dirFor(u);
    ChildJvm.call(u, Mode.USER_NAMESPACE, UserNamespaceTest::remapInside, d.toString())
        .assertSuccess();
    // seen from the host: container uid 1000 is subordinate id START + 999
    Stat st = Sys.lstat(d.resolve("mapped").toString());
    assertEquals(u.subuidStart() + 999, st.uid());
    assertEquals(u.subgidStart() + 1999, st.gid());
    Stat squashed = Sys.lstat(d.resolve("squashed").toString());
    assertEquals(u.uid(), squashed.uid(), "the namespace's root is the user itself");
  }

  static void remapInside(String[] a) throws IOException {
    Path d = Path.of(a[0]);
    IdRemapper r = IdRemapper.forCurrentProcess(UnmappedIdPolicy.FAIL);
    UnmappedIdException e =
        assertThrows(
            UnmappedIdException.class,
            () -> r.owner("sha256:test-layer", "usr/share/big/file", 70000, 0));
    SubIdRange line = SubordinateIds.load(UserAccount.current()).ranges(IdKind.UID).get(0);
    String m = e.getMessage();
    for (String part :
        List.of(
            "layer \"sha256:test-layer\"",
            "\"usr/share/big/file\" is owned by uid 70000",
            "uids 0-65535 (65,536 ids)",
            line.where() + " \"" + line.entry() + "\"",
            "layerd-test has 65,536 (" + line.where() + ")",
            "sudo usermod --add-subuids ",
            "layerd-test`, then restart layerd")) {
      assertTrue(m.contains(part), () -> "lacks «" + part + "»: " + m);
    }
    assertEquals(List.of(line), e.sourceRanges());
    // the kernel agrees: chown to 70000 is EINVAL, which the remapper explains the same way
    Path f = d.resolve("mapped");
    Files.writeString(f, "x");
    IOException einval = assertThrows(IOException.class, () -> Sys.lchown(bytes(f), 70000, 0));
    assertTrue(
        r.explainChownFailure("sha256:test-layer", "mapped", 70000, 0, einval)
            instanceof UnmappedIdException);
    // a mapped id chowns
    Owner o = r.owner("sha256:test-layer", "mapped", 1000, 2000);
    Sys.lchown(bytes(f), o.uid(), o.gid());
    assertEquals(1000, Sys.lstat(f.toString()).uid());
    // squash gives the entry to the namespace's root; skip leaves it
    Path g = d.resolve("squashed");
    Files.writeString(g, "y");
    Owner sq = r.withPolicy(UnmappedIdPolicy.SQUASH).owner("l", "squashed", 70000, 70000);
    assertEquals(new Owner(0, 0, true, false), sq);
    Sys.lchown(bytes(g), sq.uid(), sq.gid());
    Owner sk = r.withPolicy(UnmappedIdPolicy.SKIP).owner("l", "skipped", 70000, 70000);
    assertEquals(new Owner(Owner.KEEP, Owner.KEEP, false, true), sk);
  }

  @UserNsTest
  void largerRangeFitsAndTheHostOwnerIsTheMappedId() throws IOException {
    TestUser big = TestUser.withIds(BIG_USER, 2 * 65536);
    Path d = dirFor(big);
    ChildJvm.call(big, Mode.USER_NAMESPACE, UserNamespaceTest::chown70000, d.toString())
        .assertSuccess();
    Stat st = Sys.lstat(d.resolve("f").toString());
    assertEquals(big.subuidStart() + 69999, st.uid());
    assertEquals(big.subgidStart() + 69999, st.gid());
  }

  static void chown70000(String[] a) throws IOException {
    IdRemapper r = IdRemapper.forCurrentProcess(UnmappedIdPolicy.FAIL);
    Owner o = r.owner("l", "f", 70000, 70000);
    assertEquals(new Owner(70000, 70000, false, false), o);
    Path f = Path.of(a[0], "f");
    Files.writeString(f, "z");
    Sys.lchown(bytes(f), o.uid(), o.gid());
  }

  // ------------------------------------------------------------------ layerd's own re-exec

  @UserNsTest
  void reexecMapsEveryRangeInTheRootlessLayout() throws IOException {
    TestUser u = TestUser.standard();
    Path d = dirFor(u);
    ChildJvm.call(u, Mode.USER, UserNamespaceTest::reexec, d.toString()).assertSuccess();
    String out = Files.readString(d.resolve("maps"));
    String uidMap = "0 " + u.uid() + " 1\n1 " + u.subuidStart() + " " + u.subuidCount() + "\n";
    String gidMap = "0 " + u.gid() + " 1\n1 " + u.subgidStart() + " " + u.subgidCount() + "\n";
    assertEquals(uidMap + "--\n" + gidMap + "--\n1\n", out);
  }

  static void reexec(String[] a) throws IOException {
    assertEquals(
        RootlessNamespace.Decision.ENTER, RootlessNamespace.plan(RootlessMode.AUTO).decision());
    assertEquals(
        RootlessNamespace.Decision.DISABLED, RootlessNamespace.plan(RootlessMode.FALSE).decision());
    OptionalInt status =
        RootlessNamespace.reexec(
            RootlessMode.TRUE,
            RootlessNamespace.Launcher.NEWUIDMAP,
            ReexecProbe.class.getName(),
            new String[] {Path.of(a[0], "maps").toString()},
            RootlessNamespaceTest::noWarning);
    assertEquals(OptionalInt.of(7), status, "the child's exit status is passed on");
    // the util-linux launcher maps the first range less one id
    Path out = Path.of(a[0], "auto");
    int st =
        RootlessNamespace.run(
            RootlessNamespace.Launcher.UNSHARE_MAP_AUTO,
            List.of("cat", "/proc/self/uid_map"),
            Map.of(),
            out);
    assertEquals(0, st);
    IdMapping m = IdMapping.parseProcMap(Files.readString(out));
    assertEquals(65535, m.ranges().get(1).size());
    assertTrue(RootlessNamespace.probe().isEmpty(), () -> RootlessNamespace.probe().toString());
  }

  // ------------------------------------------------------------------ the doctor

  @UserNsTest
  void doctorPassesForTheTestUser() {
    ChildJvm.call(TestUser.standard(), Mode.USER, UserNamespaceTest::doctor).assertSuccess();
  }

  static void doctor() throws IOException {
    DoctorReport r = Doctor.system();
    assertTrue(r.ok(), r::toText);
    assertEquals(CheckStatus.PASS, r.check("subuid").orElseThrow().status(), r::toText);
    assertEquals(CheckStatus.PASS, r.check("userns").orElseThrow().status(), r::toText);
    assertTrue(r.check("userns").orElseThrow().detail().startsWith("entered"), r::toText);
  }
}
