package io.layerd.cli;

import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.image.ImageResult;
import io.layerd.unpack.image.ImageUnpacker;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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

    @Override
    public Integer call() throws Exception {
      if (!Files.exists(image, LinkOption.NOFOLLOW_LINKS) && !Files.exists(image)) {
        throw new CliException("cannot read image " + image + ": no such file or directory", 2);
      }
      LayerApplier applier = options.applier();
      ImageResult r =
          ImageUnpacker.builder()
              .applier(applier)
              .platform(choice.platform())
              .ref(choice.ref)
              .build()
              .unpack(image, dest);
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
