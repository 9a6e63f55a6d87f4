package io.layerd.driver.vfs;

import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the {@link VfsDriver}: last in the automatic choice (priority 100), and always usable. Its
 * probe says which filesystem backs the data-root and whether layers can share file content by
 * reflink there, tried for real on two temporary files in the data-root (removed again).
 */
public final class VfsDriverProvider implements DriverProvider {
  /** After overlay2 (10), fuse-overlayfs (20) and btrfs (30). */
  public static final int PRIORITY = 100;

  @Override
  public String name() {
    return VfsDriver.NAME;
  }

  @Override
  public int priority() {
    return PRIORITY;
  }

  @Override
  public Probe probe(DriverContext context) throws IOException {
    FsInfo fs = context.host().filesystems().probe(context.dataRoot());
    String problem;
    try (Fd d = Sys.openDirectory(context.dataRoot().toString())) {
      problem = TreeCopier.reflinkProblem(d.get());
    }
    List<String> reasons = new ArrayList<>();
    reasons.add("vfs needs no kernel feature: each layer is a full copy of its parent");
    reasons.add(
        "backing filesystem: "
            + fs.backingName()
            + (fs.mountPoint().isEmpty() ? "" : " (mounted at " + fs.mountPoint() + ")"));
    reasons.add(
        problem == null
            ? "reflinks (FICLONE) work on "
                + fs.backingName()
                + ": copies share file content with their parent"
            : "no reflinks on "
                + fs.backingName()
                + " ("
                + problem
                + "): file content is copied with copy_file_range");
    return new Probe(reasons);
  }

  @Override
  public Driver open(DriverContext context) throws IOException {
    return VfsDriver.open(context);
  }

  /** True when the home holds at least one layer (an empty {@code dir/} is not state). */
  @Override
  public boolean hasState(DriverContext context) {
    String[] layers = new File(context.home().toFile(), "dir").list();
    return layers != null && layers.length > 0;
  }
}
