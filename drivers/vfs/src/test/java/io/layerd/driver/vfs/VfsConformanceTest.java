package io.layerd.driver.vfs;

import io.layerd.engine.EngineUnderTest;
import io.layerd.testkit.conformance.LayerStoreConformance;
import io.layerd.testkit.conformance.LayerStoreUnderTest;
import java.io.IOException;
import java.nio.file.Path;

/** The conformance suite through the engine with vfs: as root here, and rootless in a child JVM. */
class VfsConformanceTest extends LayerStoreConformance {
  @Override
  protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
    return EngineUnderTest.open(dataRoot, VfsDriver.NAME, idShift);
  }
}
