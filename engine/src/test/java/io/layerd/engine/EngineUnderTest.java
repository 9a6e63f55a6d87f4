package io.layerd.engine;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.Host;
import io.layerd.testkit.conformance.CrashingInputStream;
import io.layerd.testkit.conformance.LayerChange;
import io.layerd.testkit.conformance.LayerStoreUnderTest;
import io.layerd.testkit.conformance.SimulatedCrash;
import io.layerd.unpack.OwnerMapper;
import io.layerd.unpack.TarEntry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The engine as testkit's conformance suite drives it: an {@link Engine} on one data-root with one
 * driver chosen explicitly, in plain Java types. Driver modules run the suite with it:
 *
 * <pre>{@code
 * class VfsConformanceTest extends LayerStoreConformance {
 *   @Override
 *   protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
 *     return EngineUnderTest.open(dataRoot, "vfs", idShift);
 *   }
 * }
 * }</pre>
 */
public final class EngineUnderTest implements LayerStoreUnderTest {
  private final Path dataRoot;
  private final String driver;
  private final long idShift;
  private Engine engine;
  private boolean crashed;

  private EngineUnderTest(Path dataRoot, String driver, long idShift) throws IOException {
    this.dataRoot = dataRoot;
    this.driver = driver;
    this.idShift = idShift;
    this.engine = start();
  }

  /**
   * Opens an engine on {@code dataRoot} with the installed driver {@code driver}; layer owners are
   * shifted by {@code idShift} on ApplyDiff (container id n is host id n + idShift).
   */
  public static EngineUnderTest open(Path dataRoot, String driver, long idShift)
      throws IOException {
    return new EngineUnderTest(dataRoot, driver, idShift);
  }

  private Engine start() throws IOException {
    return Engine.open(
        new EngineConfig(
            dataRoot,
            driver,
            Map.of(),
            Host.current(),
            DriverSelector.installed(),
            shift(idShift)));
  }

  /** Container id n becomes n + shift. */
  static OwnerMapper shift(long shift) {
    if (shift == 0) {
      return OwnerMapper.identity();
    }
    return new OwnerMapper() {
      @Override
      public long uid(long containerUid, TarEntry entry) {
        return containerUid + shift;
      }

      @Override
      public long gid(long containerGid, TarEntry entry) {
        return containerGid + shift;
      }
    };
  }

  /** The engine itself, for checks beyond the suite. */
  public Engine engine() {
    return engine;
  }

  @Override
  public Set<String> capabilities() {
    Set<String> out = new TreeSet<>();
    for (Capability c : engine.driver().capabilities()) {
      out.add(c.name());
    }
    return out;
  }

  @Override
  public Path dataRoot() {
    return engine.dataRoot();
  }

  @Override
  public void create(String id, String parent) throws IOException {
    engine.create(id, parent);
  }

  @Override
  public void createReadWrite(String id, String parent) throws IOException {
    engine.createReadWrite(id, parent);
  }

  @Override
  public boolean exists(String id) {
    return engine.exists(id);
  }

  @Override
  public void remove(String id) throws IOException {
    engine.remove(id);
  }

  @Override
  public Path get(String id) throws IOException {
    return engine.get(id);
  }

  @Override
  public void put(String id) throws IOException {
    engine.put(id);
  }

  @Override
  public int references(String id) {
    return engine.references(id);
  }

  @Override
  public long applyDiff(String id, String parent, InputStream tar) throws IOException {
    engine.applyDiff(id, parent, tar);
    return engine.store().get(id).orElseThrow().size();
  }

  @Override
  public void diff(String id, String parent, OutputStream out) throws IOException {
    engine.diff(id, parent, out);
  }

  @Override
  public List<LayerChange> changes(String id, String parent) throws IOException {
    List<LayerChange> out = new ArrayList<>();
    for (Change c : engine.changes(id, parent)) {
      out.add(new LayerChange(c.displayPath(), c.kind().wire()));
    }
    return out;
  }

  @Override
  public long diffSize(String id, String parent) throws IOException {
    return engine.diffSize(id, parent);
  }

  @Override
  public void crashDuringApply(String id, String parent, InputStream tar, long afterBytes)
      throws IOException {
    try {
      engine.applyDiff(id, parent, new CrashingInputStream(tar, afterBytes));
    } catch (SimulatedCrash expected) {
      engine.abandonForCrashTest();
      crashed = true;
      return;
    }
    throw new AssertionError("the apply finished before " + afterBytes + " bytes: no crash");
  }

  @Override
  public void reopen() throws IOException {
    if (!crashed) {
      engine.close();
    }
    crashed = false;
    engine = start();
  }

  @Override
  public void close() throws IOException {
    if (!crashed) {
      engine.close();
    }
  }
}
