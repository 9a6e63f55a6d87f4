package io.layerd.driver.overlay2;

import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Probe;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The overlay2 driver (priority 10: the first choice wherever it works). The probe refuses, with a
 * typed reason: a user namespace on a kernel older than 5.11 and a process that is neither root nor
 * in a user namespace (PREREQUISITES_MISSING); a data-root on overlayfs, aufs, ecryptfs or NFS, or
 * on a filesystem without d_type (INCOMPATIBLE_FILESYSTEM); a kernel without overlay, or one whose
 * test mount fails (NOT_SUPPORTED). It does a real mount of two lower directories in the data-root
 * to prove the rest; see {@link OverlayCheck}.
 */
public final class Overlay2DriverProvider implements DriverProvider {
  private final Path moduleParameters;
  private final OverlayCheck.DTypeCheck dtype;

  /** The real provider, as ServiceLoader makes it. */
  public Overlay2DriverProvider() {
    this(OverlayMode.MODULE_PARAMETERS, OverlayCheck.REAL_DTYPE);
  }

  /** For tests: another directory of module parameters, another d_type check. */
  Overlay2DriverProvider(Path moduleParameters, OverlayCheck.DTypeCheck dtype) {
    this.moduleParameters = moduleParameters;
    this.dtype = dtype;
  }

  @Override
  public String name() {
    return OverlayCheck.NAME;
  }

  @Override
  public int priority() {
    return 10;
  }

  @Override
  public Probe probe(DriverContext context) throws DriverRefusal, IOException {
    return new Probe(OverlayCheck.run(context, moduleParameters, dtype).reasons());
  }

  @Override
  public Driver open(DriverContext context) throws DriverRefusal, IOException {
    return Overlay2Driver.open(context, moduleParameters, dtype);
  }
}
