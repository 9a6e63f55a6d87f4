package io.layerd.driver.btrfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DriverFixtures;
import io.layerd.engine.DriverSelector;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.sys.StatFs;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** btrfs for real, as root, on a loop-mounted filesystem made by each test. */
class BtrfsRootTest {
  private static final List<DriverProvider> PROVIDERS =
      List.of(new BtrfsProvider(), DriverFixtures.fallback());

  @RootTest
  void roundTripAsRoot() throws Exception {
    try (LoopBtrfs fs = LoopBtrfs.create(false, null)) {
      BtrfsScenarios.roundTrip(new String[] {fs.path("dr").toString(), "IOCTL"});
    }
  }

  @RootTest
  void probeAsRoot() throws Exception {
    try (LoopBtrfs fs = LoopBtrfs.create(false, null)) {
      BtrfsScenarios.probeUsable(
          new String[] {
            fs.path("dr").toString(),
            "data-root is on btrfs",
            "removal by BTRFS_IOC_SNAP_DESTROY (root)",
            "subvolume create, snapshot and removal (BTRFS_IOC_SNAP_DESTROY) work"
          });
    }
  }

  /** What {@code layerctl driver probe} reports on a loop btrfs and on the (non-btrfs) /tmp. */
  @RootTest
  void verdictsOnBtrfsAndElsewhere() throws Exception {
    Host host = Host.current();
    try (LoopBtrfs fs = LoopBtrfs.create(true, null)) {
      Path dr = fs.path("dr");
      Files.createDirectories(dr);
      DriverSelector.Selection s = DriverSelector.select(dr, host, null, Map.of(), PROVIDERS);
      assertEquals("btrfs", s.chosen());
      assertTrue(s.verdict("btrfs").usable(), s.verdict("btrfs").toString());
    }
    Path tmp = Files.createTempDirectory(Path.of("/tmp"), "layerd-notbtrfs-");
    try {
      FsInfo info = host.filesystems().probe(tmp);
      Require.that(info.magic() != StatFs.BTRFS_SUPER_MAGIC, "needs a /tmp that is not on btrfs");
      DriverSelector.Selection s = DriverSelector.select(tmp, host, null, Map.of(), PROVIDERS);
      DriverSelector.Verdict v = s.verdict("btrfs");
      assertFalse(v.usable());
      assertEquals("incompatible filesystem", v.refusal());
      assertEquals(List.of("data-root is on " + info.type() + ", not btrfs"), v.reasons());
      assertEquals("fallback", s.chosen());
    } finally {
      TestFiles.deleteTree(tmp);
    }
  }
}
