package io.layerd.engine.spi;

import java.util.List;
import java.util.Objects;

/**
 * A mount as data: what mount(2) (or a FUSE helper) is to be given. Drivers return these; the
 * engine performs them at a target of its choosing, so that drivers never mount and their mount
 * shapes can be checked without privileges.
 *
 * <p>Types: a kernel filesystem type ({@code "overlay"}, {@code "btrfs"}), {@code "bind"} (a bind
 * mount of {@link #source}; {@code "rbind"} recursive), or {@code "fuse.HELPER"} (the engine runs
 * the binary HELPER with {@code -o OPTIONS TARGET}).
 *
 * @param options mount options in order, e.g. {@code lowerdir=...}, {@code upperdir=...}, {@code
 *     ro}; the engine turns flag-like options (ro, nosuid, nodev, noexec) into mount flags
 * @param workingDirectory null (every path in the options is absolute), or the absolute directory
 *     that relative paths in the options are resolved from: the engine performs the mount(2) with
 *     this as the working directory of the calling thread (moby's "mountFrom"). Kernel filesystems
 *     only. overlay2 uses it for the lowerdir of a chain too deep for absolute paths to fit the one
 *     page of mount data (see docs/drivers/overlay2.md).
 */
public record Mount(String type, String source, List<String> options, String workingDirectory) {
  public Mount {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(source, "source");
    options = List.copyOf(options);
    if (workingDirectory != null && !workingDirectory.startsWith("/")) {
      throw new IllegalArgumentException(
          "a mount's working directory must be absolute: '" + workingDirectory + "'");
    }
  }

  /** A mount whose paths are all absolute (no working directory). */
  public Mount(String type, String source, List<String> options) {
    this(type, source, options, null);
  }

  /** A bind mount of a directory, read-write or read-only. */
  public static Mount bind(String dir, boolean readOnly) {
    return new Mount("bind", dir, readOnly ? List.of("rbind", "ro") : List.of("rbind", "rw"));
  }

  public boolean isBind() {
    return type.equals("bind");
  }

  public boolean isReadOnly() {
    return options.contains("ro");
  }

  /** The options joined as mount(8) shows them. */
  public String optionString() {
    return String.join(",", options);
  }
}
