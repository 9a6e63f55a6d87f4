package io.layerd.driver.btrfs;

import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite with btrfs mounted without {@code user_subvol_rm_allowed}: rootless removal
 * empties subvolumes and rmdirs them.
 */
class BtrfsConformanceTest extends BtrfsConformance {
  @BeforeAll
  static void mountBtrfs() throws IOException {
    mount(false);
  }

  @AfterAll
  static void unmountBtrfs() throws IOException {
    unmount();
  }
}
