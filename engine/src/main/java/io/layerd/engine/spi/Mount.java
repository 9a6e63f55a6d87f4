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
 */
public record Mount(String type, String source, List<String> options) {
  public Mount {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(source, "source");
    options = List.copyOf(options);
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
