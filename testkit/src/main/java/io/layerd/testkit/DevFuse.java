package io.layerd.testkit;

import java.io.IOException;
import java.nio.file.Path;

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

  private final DeviceMode mode;

  private DevFuse(DeviceMode mode) {
    this.mode = mode;
  }

  /** Sets /dev/fuse to {@code mode} as {@code ls -l} shows it, e.g. "rw-------". */
  public static DevFuse mode(String mode) throws IOException {
    return new DevFuse(DeviceMode.of(PATH, mode));
  }

  /** Opens /dev/fuse to every user (0666), as distributions usually have it. */
  public static DevFuse openToUsers() throws IOException {
    return new DevFuse(DeviceMode.openToUsers(PATH));
  }

  /** Puts the old mode back. */
  @Override
  public void close() throws IOException {
    mode.close();
  }
}
