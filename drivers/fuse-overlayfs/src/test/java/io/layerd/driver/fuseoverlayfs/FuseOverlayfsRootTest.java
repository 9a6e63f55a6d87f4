package io.layerd.driver.fuseoverlayfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DriverFixtures;
import io.layerd.engine.DriverSelector;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.Host;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** fuse-overlayfs for real, as root: the engine round trip and the probe verdicts. */
class FuseOverlayfsRootTest {
  private static void requireFuseOverlayfs() {
    Require.command("fuse-overlayfs");
    Require.command("fusermount3");
    Require.fuse();
  }

  @RootTest
  void engineRoundTripAsRoot() throws Exception {
    requireFuseOverlayfs();
    try (var dir = new FuseFixtures.UserDataRoot(null)) {
      FuseOverlayfsScenarios.engineRoundTrip(
          new String[] {dir.dataRoot.toString(), "trusted.overlay.opaque"});
    }
  }

  @RootTest
  void probeAsRoot() throws Exception {
    requireFuseOverlayfs();
    try (var dir = new FuseFixtures.UserDataRoot(null)) {
      FuseOverlayfsScenarios.probeUsable(
          new String[] {dir.dataRoot.toString(), "trusted.overlay.opaque"});
    }
  }

  /** What {@code layerctl driver probe} reports, with and without the binary. */
  @RootTest
  void verdictsWithAndWithoutTheBinary() throws Exception {
    requireFuseOverlayfs();
    List<DriverProvider> providers =
        List.of(new FuseOverlayfsProvider(), DriverFixtures.fallback());
    try (var dir = new FuseFixtures.UserDataRoot(null)) {
      Host host = Host.current();
      DriverSelector.Selection with =
          DriverSelector.select(dir.dataRoot, host, null, Map.of(), providers);
      DriverSelector.Verdict v = with.verdict("fuse-overlayfs");
      assertTrue(v.usable(), v.toString());
      assertEquals("fuse-overlayfs", with.chosen());
      assertTrue(String.join(" ", v.reasons()).contains("fuse-overlayfs 1."), v.toString());

      Host without =
          host.toBuilder()
              .binaries(n -> n.equals("fuse-overlayfs") ? Optional.empty() : Host.which(n))
              .build();
      DriverSelector.Selection sel =
          DriverSelector.select(dir.dataRoot, without, null, Map.of(), providers);
      v = sel.verdict("fuse-overlayfs");
      assertFalse(v.usable(), v.toString());
      assertEquals("prerequisites missing", v.refusal());
      assertTrue(v.reasons().get(0).contains("apt-get install fuse-overlayfs"), v.toString());
      assertEquals("fallback", sel.chosen());
    }
  }
}
