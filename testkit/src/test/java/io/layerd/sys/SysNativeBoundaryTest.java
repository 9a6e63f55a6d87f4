package io.layerd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Integration tests of the native boundary ({@link Sys}) against the real kernel: in this JVM
 * (checks that need no privilege as plain tests, the others as root), and in child JVMs as the
 * unprivileged test user, plainly and inside a user namespace. The checks themselves are in {@link
 * SysScenarios}. They live in testkit because sys cannot depend on testkit.
 */
class SysNativeBoundaryTest {
  @TempDir Path scratch;

  @Test
  void nonUtf8NamesRoundTrip() throws Exception {
    SysScenarios.nonUtf8Names(scratch);
  }

  @Test
  void openInRootStaysInside() throws Exception {
    SysScenarios.openInRoot(scratch, false);
  }

  @Test
  void openInRootByWalkStaysInside() throws Exception {
    SysScenarios.openInRoot(scratch, true);
  }

  @Test
  void errnoBecomesTheRightException() throws Exception {
    SysScenarios.errnoTranslation(scratch);
  }

  @Test
  void renameat2NoReplaceAndExchange() throws Exception {
    SysScenarios.renameat2(scratch);
  }

  @Test
  void statfsAndUname() throws Exception {
    SysScenarios.statfsAndUname();
  }

  /**
   * chattr +T where the filesystem has the flag (ext4 here: lsattr shows it, and a second call
   * finds it set); tmpfs has none, and the directory stays as it was.
   */
  @Test
  void markTopDirectory() throws Exception {
    Path d = Files.createDirectory(scratch.resolve("top"));
    boolean marked;
    try (Fd fd = Sys.openDirectory(d.toString())) {
      marked = Sys.markTopDirectory(fd.get());
      assertEquals(marked, Sys.markTopDirectory(fd.get()), "the second call");
    }
    if (Sys.statfs(d.toString()).type() == StatFs.EXT4_SUPER_MAGIC) {
      assertTrue(marked, "ext4 has FS_TOPDIR_FL");
    }
    Process p = new ProcessBuilder("lsattr", "-d", d.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() == 0) {
      assertEquals(marked, out.split(" ")[0].contains("T"), out);
    }
    Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "top");
    try (Fd fd = Sys.openDirectory(shm.toString())) {
      assertFalse(Sys.markTopDirectory(fd.get()), "tmpfs has no such flag");
    } finally {
      Files.delete(shm);
    }
  }

  @RootTest
  void symlinksAreNotFollowedAsRoot() throws Exception {
    SysScenarios.symlinkNotFollowed(scratch, true, 1234, 5678);
  }

  @RootTest
  void devicesAsRoot() throws Exception {
    SysScenarios.devices(scratch, true);
  }

  @RootTest
  void chownAnyIdAsRoot() throws Exception {
    SysScenarios.chown(scratch, true, false);
  }

  @RootTest
  void trustedAndUserXattrsAsRoot() throws Exception {
    SysScenarios.xattrs(scratch, true);
  }

  /** Everything again as the test user in its namespace: uid 0 there, but not real root. */
  @UserNsTest
  void inAUserNamespace() {
    ChildJvm.call(TestUser.standard(), Mode.USER_NAMESPACE, SysScenarios::inUserNamespace)
        .assertSuccess();
  }

  /** As the plain test user: no chown, no devices, no trusted.* xattrs. */
  @RootTest
  void asAPlainUser() {
    TestUser user = TestUser.standard();
    ChildJvm.call(user, Mode.USER, SysScenarios::asPlainUser, Long.toString(user.uid()))
        .assertSuccess();
  }
}
