package io.layerd.driver.btrfs;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Scenario;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;

/**
 * btrfs as the unprivileged test user inside a user namespace, on a loop btrfs whose root the user
 * owns, with and without {@code user_subvol_rm_allowed}.
 */
class BtrfsUserNsTest {
  private static void run(boolean rmAllowed, Scenario scenario, String... args) throws Exception {
    TestUser user = TestUser.standard();
    try (LoopBtrfs fs = LoopBtrfs.create(rmAllowed, user)) {
      String[] all = new String[args.length + 1];
      all[0] = fs.path("dr").toString();
      System.arraycopy(args, 0, all, 1, args.length);
      ChildJvm.call(user, ChildJvm.Mode.USER_NAMESPACE, scenario, all).assertSuccess();
    }
  }

  @UserNsTest
  void withUserSubvolRmAllowedRemovalIsTheIoctl() throws Exception {
    run(true, BtrfsScenarios::roundTrip, "IOCTL");
  }

  @UserNsTest
  void withoutUserSubvolRmAllowedRemovalEmptiesAndRmdirs() throws Exception {
    run(false, BtrfsScenarios::roundTrip, "RMDIR");
  }

  @UserNsTest
  void probeWithUserSubvolRmAllowed() throws Exception {
    run(
        true,
        BtrfsScenarios::probeUsable,
        "user_subvol_rm_allowed is set",
        "removal (BTRFS_IOC_SNAP_DESTROY) work");
  }

  @UserNsTest
  void probeWithoutUserSubvolRmAllowed() throws Exception {
    run(
        false,
        BtrfsScenarios::probeUsable,
        "user_subvol_rm_allowed is not set",
        "removal (emptied, then rmdir) work");
  }
}
