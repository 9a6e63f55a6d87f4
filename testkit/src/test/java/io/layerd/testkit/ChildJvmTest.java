package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.ChildJvm.Result;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class ChildJvmTest {

  /** Runs in the child: prints who it is and how its ids are mapped. */
  static void whoAmI(String[] args) throws IOException {
    System.out.println("uid=" + Sys.getuid() + " gid=" + Sys.getgid());
    System.out.println("mode=" + ChildJvm.currentMode());
    System.out.println("home=" + System.getenv("HOME") + " user=" + System.getenv("USER"));
    System.out.println("encoding=" + System.getProperty("sun.jnu.encoding"));
    System.out.println("requireAll=" + Require.requireAll());
    System.out.println("args=" + String.join("|", args));
    System.out.print(
        "uid_map="
            + Files.readString(Path.of("/proc/self/uid_map"), StandardCharsets.UTF_8)
                .replaceAll("\\s+", " ")
                .strip());
    System.out.println();
  }

  /** Runs in the child: chowns a new file to args[0] and checks it. */
  static void chownTo(String[] args) throws IOException {
    long id = Long.parseLong(args[0]);
    Path f = Files.createTempFile("layerd-chown-", "");
    try {
      Sys.lchown(f.toString().getBytes(StandardCharsets.UTF_8), id, id);
      if (Sys.lstat(f.toString()).uid() != id) {
        throw new AssertionError("chown to " + id + " did not stick");
      }
    } finally {
      Files.delete(f);
    }
  }

  static void fails() {
    throw new AssertionError("the scenario's own message");
  }

  static void aborts() {
    Assumptions.abort("nothing to see");
  }

  static void sleeps() throws InterruptedException {
    Thread.sleep(60_000);
  }

  @RootTest
  void rootModeRunsAsThisUser() {
    Result r = ChildJvm.call(null, Mode.ROOT, ChildJvmTest::whoAmI, "a b", "é").assertSuccess();
    assertTrue(r.stdout().contains("uid=0 gid=0"), r.stdout());
    assertTrue(r.stdout().contains("mode=ROOT"), r.stdout());
    assertTrue(r.stdout().contains("args=a b|é"), r.stdout());
    assertTrue(r.stdout().contains("encoding=UTF-8"), r.stdout());
    assertTrue(r.stdout().contains("requireAll=" + Require.requireAll()), r.stdout());
  }

  @RootTest
  void userModeRunsAsTheTestUser() {
    TestUser u = TestUser.standard();
    Result r = ChildJvm.call(u, Mode.USER, ChildJvmTest::whoAmI).assertSuccess();
    assertTrue(r.stdout().contains("uid=" + u.uid() + " gid=" + u.gid()), r.stdout());
    assertTrue(r.stdout().contains("home=" + u.home() + " user=" + u.name()), r.stdout());
    assertTrue(r.stdout().contains("uid_map=0 0 4294967295"), r.stdout());
  }

  @UserNsTest
  void userNamespaceModeMapsRootToTheUser() {
    TestUser u = TestUser.standard();
    Result r = ChildJvm.call(u, Mode.USER_NAMESPACE, ChildJvmTest::whoAmI).assertSuccess();
    assertTrue(r.stdout().contains("uid=0 gid=0"), r.stdout());
    assertTrue(
        r.stdout()
            .contains(
                "uid_map=0 " + u.uid() + " 1 1 " + u.subuidStart() + " " + (u.subuidCount() - 1)),
        r.stdout());
  }

  @UserNsTest
  void aUserWithMoreIdsGetsItsWholeRangeInItsNamespace() {
    TestUser big = TestUser.withIds("layerd-big", 300_000);
    Result r = ChildJvm.call(big, Mode.USER_NAMESPACE, ChildJvmTest::whoAmI).assertSuccess();
    assertTrue(
        r.stdout().contains("1 " + big.subuidStart() + " " + (big.subuidCount() - 1)), r.stdout());
    ChildJvm.call(big, Mode.USER_NAMESPACE, ChildJvmTest::chownTo, "250000").assertSuccess();
    Result small =
        ChildJvm.call(TestUser.standard(), Mode.USER_NAMESPACE, ChildJvmTest::chownTo, "250000");
    assertEquals(ScenarioMain.EXIT_FAILED, small.exitCode(), small.describe());
    assertTrue(small.stderr().contains("EINVAL"), small.stderr());
  }

  @RootTest
  void anAbortInTheChildSkipsOrFailsTheCaller() {
    Result r = ChildJvm.call(null, Mode.ROOT, ChildJvmTest::aborts);
    assertTrue(r.aborted(), r.describe());
    assertTrue(r.stderr().startsWith(ScenarioMain.ABORTED_PREFIX + "nothing to see"), r.stderr());
    Throwable t = assertThrows(Throwable.class, r::assertSuccess);
    assertEquals(RequireTest.missingFeature(), t.getClass());
    assertTrue(t.getMessage().contains("in the child JVM: nothing to see"), t.getMessage());
  }

  @Test
  void onlyReferencesToStaticMethodsCrossIntoTheChild() {
    String captured = "x";
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ChildJvm.launcher(null, Mode.ROOT).command(args -> assertEquals(captured, "x")));
    assertTrue(e.getMessage().contains("static method"), e.getMessage());
    List<String> cmd = ChildJvm.launcher(null, Mode.ROOT).command(ChildJvmTest::whoAmI, "a");
    assertEquals(
        List.of(ScenarioMain.class.getName(), ChildJvmTest.class.getName(), "whoAmI", "a"),
        cmd.subList(cmd.size() - 4, cmd.size()));
  }

  @RootTest
  void badArgumentsAreReported() {
    Result r = ChildJvm.call(null, Mode.ROOT, ChildJvmTest.class, "noSuchMethod");
    assertEquals(ScenarioMain.EXIT_USAGE, r.exitCode());
    assertTrue(r.stderr().contains("no static method noSuchMethod"), r.stderr());
    r = ChildJvm.call(null, Mode.ROOT, ChildJvmTest.class, "fails", "unexpected-arg");
    assertEquals(ScenarioMain.EXIT_USAGE, r.exitCode());
  }

  @RootTest
  void aFailingScenarioReportsItsStackTrace() {
    Result r = ChildJvm.call(null, Mode.ROOT, ChildJvmTest::fails);
    assertEquals(ScenarioMain.EXIT_FAILED, r.exitCode());
    assertTrue(r.stderr().contains("the scenario's own message"), r.stderr());
    assertTrue(r.stderr().contains("ChildJvmTest.fails"), r.stderr());
    AssertionError e = assertThrows(AssertionError.class, r::assertSuccess);
    assertTrue(e.getMessage().contains("the scenario's own message"), e.getMessage());
  }

  @RootTest
  void aTimedOutChildIsKilled() {
    long t0 = System.nanoTime();
    Result r =
        ChildJvm.launcher(null, Mode.ROOT)
            .timeout(Duration.ofSeconds(3))
            .call(ChildJvmTest::sleeps);
    assertTrue(r.timedOut(), r.describe());
    assertTrue(System.nanoTime() - t0 < 30_000_000_000L);
    assertFalse(r.succeeded());
  }
}
