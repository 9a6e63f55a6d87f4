package io.layerd.driver.overlay2;

import io.layerd.engine.EngineUnderTest;
import io.layerd.testkit.conformance.LayerStoreConformance;
import io.layerd.testkit.conformance.LayerStoreUnderTest;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The conformance suite through the engine with overlay2: as root here, and as an unprivileged user
 * in a user namespace (userxattr) in a child JVM.
 */
class Overlay2ConformanceTest extends LayerStoreConformance {
  @Override
  protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
    return EngineUnderTest.open(dataRoot, OverlayCheck.NAME, idShift);
  }
}
