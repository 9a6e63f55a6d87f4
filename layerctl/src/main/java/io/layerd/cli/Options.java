package io.layerd.cli;

import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.OverlayXattrs;
import io.layerd.unpack.WhiteoutMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the applier from command-line choices, shared by every unpacking command. */
final class Options {
  private Options() {}

  static LayerApplier applier(
      WhiteoutMode whiteouts, String overlayXattrs, boolean strict, boolean sync)
      throws IOException {
    OverlayXattrs x;
    if (overlayXattrs == null) {
      x = inUserNamespace() ? OverlayXattrs.USER : OverlayXattrs.TRUSTED;
    } else if (overlayXattrs.equals("trusted")) {
      x = OverlayXattrs.TRUSTED;
    } else if (overlayXattrs.equals("user")) {
      x = OverlayXattrs.USER;
    } else {
      throw new CliException("--overlay-xattrs must be trusted or user", 2);
    }
    return LayerApplier.builder()
        .whiteouts(whiteouts)
        .overlayXattrs(x)
        .strictDevices(strict)
        .sync(sync)
        .build();
  }

  /** True inside a user namespace: /proc/self/uid_map is not the identity of all ids. */
  static boolean inUserNamespace() throws IOException {
    String map = Files.readString(Path.of("/proc/self/uid_map"), StandardCharsets.US_ASCII).trim();
    return !map.matches("0\\s+0\\s+4294967295");
  }
}
