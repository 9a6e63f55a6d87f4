package io.layerd.driver.fuseoverlayfs;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;

/**
 * fuse-overlayfs as the unprivileged test user inside a user namespace (rootless), /dev/fuse opened
 * to users for the test and put back after.
 */
class FuseOverlayfsUserNsTest {
  private static void requireFuseOverlayfs() {
    Require.command("fuse-overlayfs");
    Require.fuse();
  }

  @UserNsTest
  void engineRoundTripInAUserNamespace() throws Exception {
    requireFuseOverlayfs();
    TestUser user = TestUser.standard();
    FuseFixtures.DevFuseMode mode = FuseFixtures.DevFuseMode.set("rw-rw-rw-");
    try (var dir = new FuseFixtures.UserDataRoot(user)) {
      ChildJvm.call(
              user,
              ChildJvm.Mode.USER_NAMESPACE,
              FuseOverlayfsScenarios.class,
              "engineRoundTrip",
              dir.dataRoot.toString(),
              "user.overlay.opaque")
          .assertSuccess();
    } finally {
      mode.close();
    }
  }

  @UserNsTest
  void probeInAUserNamespace() throws Exception {
    requireFuseOverlayfs();
    TestUser user = TestUser.standard();
    FuseFixtures.DevFuseMode mode = FuseFixtures.DevFuseMode.set("rw-rw-rw-");
    try (var dir = new FuseFixtures.UserDataRoot(user)) {
      ChildJvm.call(
              user,
              ChildJvm.Mode.USER_NAMESPACE,
              FuseOverlayfsScenarios.class,
              "probeUsable",
              dir.dataRoot.toString(),
              "user.overlay.opaque")
          .assertSuccess();
    } finally {
      mode.close();
    }
  }

  @UserNsTest
  void aClosedFuseDeviceIsNamedWithItsMode() throws Exception {
    requireFuseOverlayfs();
    TestUser user = TestUser.standard();
    FuseFixtures.DevFuseMode mode = FuseFixtures.DevFuseMode.set("rw-------");
    try (var dir = new FuseFixtures.UserDataRoot(user)) {
      ChildJvm.call(
              user,
              ChildJvm.Mode.USER_NAMESPACE,
              FuseOverlayfsScenarios.class,
              "deviceRefused",
              dir.dataRoot.toString())
          .assertSuccess();
    } finally {
      mode.close();
    }
  }
}
