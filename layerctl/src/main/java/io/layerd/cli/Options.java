package io.layerd.cli;

import io.layerd.idmap.UnmappedIdPolicy;
import io.layerd.idmap.internal.RootlessNamespace;
import io.layerd.sys.Sys;
import io.layerd.unpack.ApplyProgress;
import io.layerd.unpack.IdOwners;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.OverlayXattrs;
import io.layerd.unpack.OwnerMapper;
import io.layerd.unpack.WhiteoutMode;
import java.io.IOException;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The options every unpacking command shares (a picocli mixin), and the applier they build. Owners:
 * as root (real, or inside the rootless user namespace) through the namespace's id mapping under
 * {@code --on-unmapped-id}; as a plain user outside any namespace (--rootless=false) files keep the
 * user's own ids, as tar does.
 */
final class Options {
  @Option(
      names = "--whiteouts",
      paramLabel = "MODE",
      description =
          "apply (delete whited-out paths; default), overlay (overlayfs form: 0/0 character"
              + " devices and the opaque xattr) or keep (write .wh. files as they are).")
  String whiteouts = "apply";

  @Option(
      names = "--on-unmapped-id",
      paramLabel = "POLICY",
      description =
          "What to do with an owner the user namespace does not map: fail (default: a precise"
              + " error with the remedy), squash (give it to the namespace's root) or skip (leave"
              + " the file owned as created, and count it).")
  String onUnmappedId = "fail";

  @Option(names = "--sync", description = "Flush the destination's filesystem before exiting.")
  boolean sync;

  @Option(names = "--strict", description = "Fail on a device node that cannot be made.")
  boolean strict;

  @Option(names = "--overlay-xattrs", paramLabel = "trusted|user", hidden = true)
  String overlayXattrs;

  @Option(
      names = {"-q", "--quiet"},
      description =
          "Print no summary and no progress (warnings and errors still go to standard error).")
  boolean quiet;

  /** The applier these options describe, telling {@code progress} (may be null) how it goes. */
  LayerApplier applier(ApplyProgress progress) throws IOException {
    OverlayXattrs x;
    if (overlayXattrs == null) {
      x = RootlessNamespace.inUserNamespace() ? OverlayXattrs.USER : OverlayXattrs.TRUSTED;
    } else if (overlayXattrs.equals("trusted")) {
      x = OverlayXattrs.TRUSTED;
    } else if (overlayXattrs.equals("user")) {
      x = OverlayXattrs.USER;
    } else {
      throw new CliException("--overlay-xattrs must be trusted or user", ExitCode.USAGE);
    }
    UnmappedIdPolicy policy;
    try {
      policy = UnmappedIdPolicy.parse(onUnmappedId);
    } catch (IllegalArgumentException e) {
      throw new CliException(
          "--on-unmapped-id must be fail, squash or skip, not '" + onUnmappedId + "'",
          ExitCode.USAGE);
    }
    OwnerMapper owners =
        Sys.geteuid() == 0 ? IdOwners.forCurrentProcess(policy) : OwnerMapper.keep();
    return LayerApplier.builder()
        .whiteouts(whiteouts(whiteouts))
        .overlayXattrs(x)
        .owners(owners)
        .strictDevices(strict)
        .sync(sync)
        .progress(progress == null ? ApplyProgress.NONE : progress)
        .build();
  }

  static WhiteoutMode whiteouts(String s) {
    switch (s.toLowerCase(Locale.ROOT)) {
      case "apply":
        return WhiteoutMode.APPLY;
      case "overlay":
        return WhiteoutMode.OVERLAY;
      case "keep":
        return WhiteoutMode.KEEP;
      default:
        throw new CliException(
            "--whiteouts must be apply, overlay or keep, not '" + s + "'", ExitCode.USAGE);
    }
  }
}
