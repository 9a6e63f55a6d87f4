package io.layerd.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The FUSE device's mode, set for a test and put back when it is closed (needs root):
 *
 * <pre>{@code
 * try (DevFuse open = DevFuse.openToUsers()) {
 *   // the test user, and root of its user namespace, can open /dev/fuse
 * }
 * }</pre>
 */
public final class DevFuse implements AutoCloseable {
  /** The FUSE device. */
  public static final Path PATH = Path.of("/dev/fuse");

  private final Set<PosixFilePermission> old;

  private DevFuse(String mode) throws IOException {
    old = Files.getPosixFilePermissions(PATH);
    Files.setPosixFilePermissions(PATH, PosixFilePermissions.fromString(mode));
  }

  /** Sets /dev/fuse to {@code mode} as {@code ls -l} shows it, e.g. "rw-------". */
  public static DevFuse mode(String mode) throws IOException {
    return new DevFuse(mode);
  }

  /** Opens /dev/fuse to every user (0666), as distributions usually have it. */
  public static DevFuse openToUsers() throws IOException {
    return mode("rw-rw-rw-");
  }

  /** Puts the old mode back. */
  @Override
  public void close() throws IOException {
    Files.setPosixFilePermissions(PATH, old);
  }
}
