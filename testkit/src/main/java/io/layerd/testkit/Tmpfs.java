package io.layerd.testkit;

import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A small tmpfs for tests that fill a filesystem (needs root): mounted at {@link #mountPoint()}
 * inside a fresh scratch directory ({@link #scratch()}, for the test's other files); closing it
 * unmounts it and deletes the scratch directory.
 *
 * <pre>{@code
 * try (Tmpfs fs = Tmpfs.mount("full", "size=2m,nr_inodes=64")) { ... fs.mountPoint() ... }
 * }</pre>
 */
public final class Tmpfs implements AutoCloseable {
  private final Path scratch;
  private final Path mountPoint;

  private Tmpfs(Path scratch, Path mountPoint) {
    this.scratch = scratch;
    this.mountPoint = mountPoint;
  }

  /** Mounts a tmpfs with these options (tmpfs(5): size=, nr_inodes=, mode=). */
  public static Tmpfs mount(String prefix, String options) throws IOException {
    Require.root();
    Path scratch = TestFiles.scratchDirectory(prefix);
    Path fs = Files.createDirectory(scratch.resolve("fs"));
    try {
      Sys.mount("tmpfs", fs.toString(), "tmpfs", 0, options);
    } catch (IOException | RuntimeException e) {
      TestFiles.deleteTree(scratch);
      throw e;
    }
    return new Tmpfs(scratch, fs);
  }

  /** Where the tmpfs is mounted. */
  public Path mountPoint() {
    return mountPoint;
  }

  /** The scratch directory holding the mount point, on the ordinary /tmp. */
  public Path scratch() {
    return scratch;
  }

  @Override
  public void close() throws IOException {
    try {
      Sys.umount2(mountPoint.toString(), 0);
    } finally {
      TestFiles.deleteTree(scratch);
    }
  }
}
