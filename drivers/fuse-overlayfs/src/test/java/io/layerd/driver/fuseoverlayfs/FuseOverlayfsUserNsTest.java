package io.layerd.driver.fuseoverlayfs;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.DevFuse;
import io.layerd.testkit.Require;
import io.layerd.testkit.Scenario;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;

/**
 * fuse-overlayfs as the unprivileged test user inside a user namespace (rootless), /dev/fuse opened
 * to users for the test and put back after.
 */
class FuseOverlayfsUserNsTest {
  /**
   * Runs a scenario of {@link FuseOverlayfsScenarios} as the test user in a user namespace, with
   * /dev/fuse set to {@code devFuseMode} meanwhile; its first argument is a data-root the user
   * owns.
   */
  @SuppressWarnings("try") // the device keeps its mode while the scenario runs
  private static void run(String devFuseMode, Scenario scenario, String... args) throws Exception {
    Require.command("fuse-overlayfs");
    Require.fuse();
    TestUser user = TestUser.standard();
    try (DevFuse mode = DevFuse.mode(devFuseMode);
        var dir = new FuseFixtures.UserDataRoot(user)) {
      String[] all = new String[args.length + 1];
      all[0] = dir.dataRoot.toString();
      System.arraycopy(args, 0, all, 1, args.length);
      ChildJvm.call(user, ChildJvm.Mode.USER_NAMESPACE, scenario, all).assertSuccess();
    }
  }

  @UserNsTest
  void engineRoundTripInAUserNamespace() throws Exception {
    run("rw-rw-rw-", FuseOverlayfsScenarios::engineRoundTrip, "user.overlay.opaque");
  }

  @UserNsTest
  void probeInAUserNamespace() throws Exception {
    run("rw-rw-rw-", FuseOverlayfsScenarios::probeUsable, "user.overlay.opaque");
  }

  @UserNsTest
  void aClosedFuseDeviceIsNamedWithItsMode() throws Exception {
    run("rw-------", FuseOverlayfsScenarios::deviceRefused);
  }
}
