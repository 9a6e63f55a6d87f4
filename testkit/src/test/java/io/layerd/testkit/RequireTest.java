package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Sys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

class RequireTest {

  /** The type a failed probe throws here: a failure under the switch, else an abort (skip). */
  static Class<? extends Throwable> missingFeature() {
    return Require.requireAll() ? AssertionFailedError.class : TestAbortedException.class;
  }

  @Test
  void aMissingFeatureSkipsWithItsReason() {
    Require.check(true, "never shown", false);
    TestAbortedException e =
        assertThrows(
            TestAbortedException.class, () -> Require.check(false, "needs a unicorn", false));
    assertEquals("skipped: needs a unicorn", e.getMessage());
  }

  @Test
  void underTheSwitchAMissingFeatureFails() {
    Require.check(true, "never shown", true);
    AssertionFailedError e =
        assertThrows(
            AssertionFailedError.class, () -> Require.check(false, "needs a unicorn", true));
    assertTrue(e.getMessage().startsWith("required: needs a unicorn"), e.getMessage());
    assertTrue(e.getMessage().contains("layerd.requireAll"), e.getMessage());
  }

  @Test
  void theSwitchIsAPropertyOrAnEnvironmentVariable() {
    Map<String, String> none = Map.of();
    assertFalse(Require.requireAll(none::get, none::get));
    assertTrue(Require.requireAll(Map.of("layerd.requireAll", "true")::get, none::get));
    assertTrue(Require.requireAll(Map.of("layerd.requireAll", " TRUE ")::get, none::get));
    assertFalse(Require.requireAll(Map.of("layerd.requireAll", "false")::get, none::get));
    assertFalse(Require.requireAll(Map.of("layerd.requireAll", "yes")::get, none::get));
    assertTrue(Require.requireAll(none::get, Map.of("LAYERD_REQUIRE_ALL", "true")::get));
    assertTrue(
        Require.requireAll(
            Map.of("layerd.requireAll", "false")::get, Map.of("LAYERD_REQUIRE_ALL", "true")::get));
    boolean expected =
        "true".equalsIgnoreCase(String.valueOf(System.getProperty("layerd.requireAll")).strip())
            || "true".equalsIgnoreCase(String.valueOf(System.getenv("LAYERD_REQUIRE_ALL")).strip());
    assertEquals(expected, Require.requireAll());
  }

  @Test
  void thatFollowsTheSwitch() {
    Require.that(true, "fine");
    Throwable t = assertThrows(Throwable.class, () -> Require.that(false, "not fine"));
    assertInstanceOf(missingFeature(), t);
  }

  @Test
  void kernelVersions() {
    assertArrayEquals(new int[] {6, 18}, Require.parseKernelVersion("6.18.44-fc-v769"));
    assertArrayEquals(new int[] {5, 10}, Require.parseKernelVersion("5.10.0-28-amd64"));
    assertArrayEquals(new int[] {0, 0}, Require.parseKernelVersion("weird"));
    int[] running = Require.parseKernelVersion(Require.kernelRelease());
    assertTrue(running[0] >= 3, Require.kernelRelease());
    Require.kernelAtLeast(running[0], running[1]);
    Require.kernelAtLeast(running[0] - 1, 99);
    Throwable t =
        assertThrows(Throwable.class, () -> Require.kernelAtLeast(running[0], running[1] + 1));
    assertInstanceOf(missingFeature(), t);
    assertTrue(t.getMessage().contains(Require.kernelRelease()), t.getMessage());
  }

  @Test
  void commandsAreLookedUpOnThePath() {
    Path sh = Require.command("sh");
    assertTrue(Files.isExecutable(sh), sh.toString());
    assertEquals(sh, Require.which("sh").orElseThrow());
    assertEquals(Path.of("/bin/sh"), Require.which("/bin/sh").orElseThrow());
    assertFalse(Require.which("layerd-no-such-command").isPresent());
    assertFalse(Require.which("/etc/passwd").isPresent(), "not executable");
    Throwable t = assertThrows(Throwable.class, () -> Require.command("layerd-no-such-command"));
    assertInstanceOf(missingFeature(), t);
    assertTrue(t.getMessage().contains("layerd-no-such-command"), t.getMessage());
  }

  @Test
  void fuseProbe() throws Exception {
    Require.fuse();
    assertTrue(Sys.lstat("/dev/fuse").isCharDevice());
  }

  @Test
  void rootProbe() {
    Require.root();
    assertEquals(0, Sys.geteuid());
    assertTrue(Require.isRoot());
  }

  @Test
  void userNamespaceProbeAgreesWithUnshare() throws Exception {
    Require.userNamespaces();
    List<String> cmd = List.of("unshare", "--user", "--map-root-user", "id", "-u");
    Exec.Outcome o = Exec.run(cmd, Duration.ofSeconds(30));
    assertTrue(o.ok(), o.describe(cmd));
    assertEquals("0", o.stdout().strip());
  }

  @RootTest
  void theRootTierRunsAsRoot() {
    assertEquals(0, Sys.geteuid(), "@RootTest probed Require.root() before the test");
  }
}
