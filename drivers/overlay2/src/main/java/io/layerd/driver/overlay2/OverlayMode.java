package io.layerd.driver.overlay2;

import io.layerd.engine.spi.DeletionForm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How this driver mounts overlay here: which xattr namespace overlay reads its markers from, and
 * which of the module's features our mounts turn off.
 *
 * <ul>
 *   <li>{@code userxattr}: in a user namespace (Linux 5.11+) overlay reads {@code user.overlay.*}
 *       instead of {@code trusted.overlay.*}, which only real root may write. With it the kernel
 *       itself turns redirect_dir to "nofollow" and metacopy off, and refuses {@code
 *       redirect_dir=off} (which means "follow" where redirect_always_follow is set), so no such
 *       options are passed then.
 *   <li>{@code index=off} where the module has an {@code index} parameter (Linux 4.13+), as moby
 *       does: the inode index ties an upper directory to the lower inodes it was first mounted
 *       over, which layers that are shared by many mounts must not be.
 *   <li>As real root, {@code redirect_dir=off} (Linux 4.10+) where the module has that parameter,
 *       whatever its default, and {@code metacopy=off} (4.19+) only where the module's default
 *       turns metacopy on ({@code /sys/module/overlay/parameters/metacopy} reads {@code Y}, as read
 *       when the driver starts; unreadable counts as on): a renamed directory then is copied
 *       instead of recorded as a redirect, and a chmod copies the whole file instead of its
 *       metadata. Both keep the upper directory a complete record of the layer's changes, which the
 *       native diff reads (and which another machine's overlay can read). {@code metacopy=off} is
 *       left out where it changes nothing because BuildKit's overlay differ (dockerd's, for {@code
 *       docker build}) gives up on a mount that carries it and has the differ walk both trees;
 *       containerd's overlayfs snapshotter passes neither option.
 * </ul>
 *
 * @param userxattr mount with {@code userxattr} (in a user namespace)
 * @param indexParam the module has an {@code index} parameter
 * @param redirectDirParam the module has a {@code redirect_dir} parameter
 * @param metacopyOn the module has a metacopy parameter and it is on by default
 */
record OverlayMode(
    boolean userxattr, boolean indexParam, boolean redirectDirParam, boolean metacopyOn) {

  /** Where the overlay module lists its parameters. */
  static final Path MODULE_PARAMETERS = Path.of("/sys/module/overlay/parameters");

  /** The mode for this host: userxattr in a user namespace; the parameters the module lists. */
  static OverlayMode detect(boolean inUserNamespace, Path moduleParameters) {
    return new OverlayMode(
        inUserNamespace,
        Files.exists(moduleParameters.resolve("index")),
        Files.exists(moduleParameters.resolve("redirect_dir")),
        metacopyOn(moduleParameters.resolve("metacopy")));
  }

  /** True when the parameter file exists and reads Y, or cannot be read. */
  static boolean metacopyOn(Path parameter) {
    if (!Files.exists(parameter)) {
      return false;
    }
    try {
      return !Files.readString(parameter).trim().equals("N");
    } catch (IOException e) {
      return true; // not known to be off: turn it off
    }
  }

  /** The mount options that follow lowerdir, upperdir and workdir, in order. */
  List<String> options() {
    List<String> out = new ArrayList<>();
    if (indexParam) {
      out.add("index=off");
    }
    if (userxattr) {
      out.add("userxattr");
    } else {
      if (redirectDirParam) {
        out.add("redirect_dir=off");
      }
      if (metacopyOn) {
        out.add("metacopy=off");
      }
    }
    return out;
  }

  /** "trusted.overlay." or "user.overlay.". */
  String xattrPrefix() {
    return userxattr ? "user.overlay." : "trusted.overlay.";
  }

  /** The name of the opaque-directory marker overlay reads in this mode. */
  String opaqueXattr() {
    return xattrPrefix() + "opaque";
  }

  DeletionForm deletionForm() {
    return userxattr ? DeletionForm.OVERLAY_USER : DeletionForm.OVERLAY_TRUSTED;
  }

  /** For humans: "as real root: trusted.overlay.*, index=off, ..." */
  String describe() {
    String who =
        userxattr
            ? "in a user namespace: user.overlay.* markers (userxattr)"
            : "as real root: trusted.overlay.* markers";
    List<String> o = options();
    return who + (o.isEmpty() ? "" : "; options " + String.join(",", o));
  }
}
