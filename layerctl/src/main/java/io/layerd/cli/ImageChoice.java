package io.layerd.cli;

import io.layerd.unpack.image.Platform;
import picocli.CommandLine.Option;

/** Which image of several, and which platform's manifest: {@code --platform} and {@code --ref}. */
final class ImageChoice {
  @Option(
      names = "--platform",
      paramLabel = "OS/ARCH[/VARIANT]",
      description =
          "The platform to read from a multi-platform image, e.g. linux/arm64 (default: this"
              + " machine's).")
  String platform;

  @Option(
      names = "--ref",
      paramLabel = "NAME",
      description =
          "The image to read when IMAGE holds several: its ref name"
              + " (org.opencontainers.image.ref.name) or, in a docker-save archive, a tag.")
  String ref;

  /** The platform asked for, or null for this machine's. */
  Platform platform() throws CliException {
    if (platform == null) {
      return null;
    }
    try {
      return Platform.parse(platform);
    } catch (IllegalArgumentException e) {
      throw new CliException("--platform: " + e.getMessage(), ExitCode.USAGE);
    }
  }
}
