package io.layerd.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A device node's mode, set for a test and put back when it is closed (needs root): /dev/fuse for
 * fuse-overlayfs as a user ({@link DevFuse}), /dev/net/tun for rootlesskit's slirp4netns.
 *
 * <pre>{@code
 * try (DeviceMode tun = DeviceMode.openToUsers(DeviceMode.NET_TUN)) {
 *   // the test user can open /dev/net/tun
 * }
 * }</pre>
 */
public final class DeviceMode implements AutoCloseable {
  /** The TUN/TAP device slirp4netns opens (0600 on some machines, 0666 on most). */
  public static final Path NET_TUN = Path.of("/dev/net/tun");

  private final Path device;
  private final Set<PosixFilePermission> old;

  private DeviceMode(Path device, String mode) throws IOException {
    this.device = device;
    this.old = Files.getPosixFilePermissions(device);
    Files.setPosixFilePermissions(device, PosixFilePermissions.fromString(mode));
  }

  /** Sets {@code device} to {@code mode} as {@code ls -l} shows it, e.g. "rw-------". */
  public static DeviceMode of(Path device, String mode) throws IOException {
    return new DeviceMode(device, mode);
  }

  /** Opens {@code device} to every user (0666), as distributions usually have it. */
  public static DeviceMode openToUsers(Path device) throws IOException {
    return of(device, "rw-rw-rw-");
  }

  /** Puts the old mode back. */
  @Override
  public void close() throws IOException {
    Files.setPosixFilePermissions(device, old);
  }
}
