package io.layerd.driver.fuseoverlayfs;

import io.layerd.engine.EngineUnderTest;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.DevFuse;
import io.layerd.testkit.Require;
import io.layerd.testkit.conformance.LayerStoreConformance;
import io.layerd.testkit.conformance.LayerStoreUnderTest;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The conformance suite through the engine with fuse-overlayfs: as root here, and rootless in a
 * child JVM (the suite's user-namespace check), with /dev/fuse opened to users meanwhile.
 */
class FuseOverlayfsConformanceTest extends LayerStoreConformance {
  private static DevFuse devFuse;

  @BeforeAll
  static void prerequisites() throws IOException {
    Require.command("fuse-overlayfs");
    Require.command("fusermount3");
    Require.fuse();
    if (ChildJvm.currentMode() == null && Require.isRoot()) {
      devFuse = DevFuse.openToUsers(); // for the user-namespace run
    }
  }

  @AfterAll
  static void restoreDevFuse() throws IOException {
    if (devFuse != null) {
      devFuse.close();
      devFuse = null;
    }
  }

  @Override
  protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
    return EngineUnderTest.open(dataRoot, FuseOverlayfsDriver.NAME, idShift);
  }
}
