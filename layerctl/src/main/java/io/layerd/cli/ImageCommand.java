package io.layerd.cli;

import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.image.ImageResult;
import io.layerd.unpack.image.ImageUnpacker;
import io.layerd.unpack.image.Platform;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code layerctl image}: commands on whole images (OCI layouts and docker-save archives). */
@Command(
    name = "image",
    mixinStandardHelpOptions = true,
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl image unpack busybox-oci rootfs",
      "  layerctl image unpack --platform linux/arm64 image.tar rootfs"
    },
    description = "Commands on whole images: OCI image layouts and docker-save archives.",
    subcommands = {ImageCommand.Unpack.class})
final class ImageCommand implements Runnable {
  @Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /**
   * {@code layerctl image unpack IMAGE DEST}. It gives files to the image's owners, so a non-root
   * user runs it inside the rootless user namespace ({@link UsesUserNamespace}).
   */
  @Command(
      name = "unpack",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {
        "  layerctl image unpack busybox-oci rootfs              # an OCI image layout",
        "  docker save busybox | gzip >b.tar.gz && layerctl image unpack b.tar.gz rootfs",
        "  layerctl image unpack --platform linux/arm64 --ref latest index.tar rootfs",
        "  layerctl image unpack --on-unmapped-id=squash --json image.tar rootfs"
      },
      description = {
        "Unpack an image into DEST: its layers in order, each checked against its digest and the"
            + " config's diff_ids.",
        "IMAGE is an OCI image layout (a directory with oci-layout and index.json, or a tar of"
            + " one) or a docker-save archive. From a multi-platform index the manifest for this"
            + " machine is chosen, or the one --platform names.",
        "When DEST does not exist the image is unpacked in a sibling staging directory that is"
            + " renamed to DEST only when every layer applied: a failure leaves no DEST behind."
      })
  static final class Unpack implements Callable<Integer>, UsesUserNamespace {
    @Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The image: layout or archive.")
    Path image;

    @Parameters(index = "1", paramLabel = "DEST", description = "The directory to unpack into.")
    Path dest;

    @Mixin ImageChoice choice;

    @Mixin Options options;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Option(
        names = "--into-existing",
        description =
            "Unpack over what an existing, non-empty DEST holds (without it such a DEST is"
                + " refused). Not staged: a failure leaves the entries applied so far.")
    boolean intoExisting;

    @Override
    public Integer call() throws Exception {
      Inputs.requireReadable("image", image);
      Platform p = choice.platform();
      if (!intoExisting && UnpackCommand.nonEmptyDirectory(dest)) {
        throw new CliException(
            dest
                + " exists and is not empty: layerctl unpacks into a new directory, made whole or"
                + " not at all; choose a DEST that does not exist, or give --into-existing to"
                + " unpack over what it holds",
            ExitCode.USAGE);
      }
      ImageResult r;
      try (Progress progress = Progress.forTerminal(options.quiet)) {
        LayerApplier applier = options.applier(progress);
        r =
            ImageUnpacker.builder()
                .applier(applier)
                .platform(p)
                .ref(choice.ref)
                .notes(note -> spec.commandLine().getErr().println("layerctl: " + note))
                .build()
                .unpack(image, dest);
      }
      if (options.quiet && !json) {
        for (String w : r.warnings()) {
          spec.commandLine().getErr().println("warning: " + w);
        }
        spec.commandLine().getErr().flush();
        return ExitCode.OK;
      }
      Map<String, Object> about = new LinkedHashMap<>();
      about.put("image", image.toAbsolutePath().toString());
      about.put("format", r.format());
      about.put("ref", r.refName());
      about.put("platform", r.platform() == null ? null : r.platform().toString());
      about.put("manifest", r.manifestDigest());
      about.put("config", r.configDigest());
      UnpackCommand.print(
          spec.commandLine().getOut(),
          spec.commandLine().getErr(),
          dest,
          r.layers(),
          json,
          about,
          r.warnings());
      return 0;
    }
  }
}
