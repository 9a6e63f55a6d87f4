package io.layerd.driver.btrfs;

import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite with btrfs mounted with {@code user_subvol_rm_allowed}: rootless removal is
 * the destroy ioctl.
 */
class BtrfsUserSubvolRmAllowedConformanceTest extends BtrfsConformance {
  @BeforeAll
  static void mountBtrfs() throws IOException {
    mount(true);
  }

  @AfterAll
  static void unmountBtrfs() throws IOException {
    unmount();
  }
}
