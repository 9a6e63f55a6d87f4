package io.layerd.cli;

import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.image.ImageArchives;
import io.layerd.unpack.internal.Staging;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code layerctl unpack LAYER... DEST}: applies layers in order into a directory. */
@Command(
    name = "unpack",
    mixinStandardHelpOptions = true,
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl unpack base.tar.gz app.tar.zst rootfs      # in order, staged",
      "  curl -sL URL | layerctl unpack --digest sha256:HEX - rootfs",
      "  layerctl unpack --whiteouts=overlay layer.tar upperdir"
    },
    description = {
      "Apply layers (tar, gzip, zstd, xz or bzip2; '-' for standard input) in order into DEST.",
      "When DEST does not exist the layers are applied in a sibling staging directory that is"
          + " renamed to DEST only when every layer applied: a failure leaves no DEST behind. A"
          + " staging directory an interrupted run left is removed by the next run into DEST.",
      "An existing, non-empty DEST is refused unless --into-existing is given."
    })
final class UnpackCommand implements Callable<Integer>, UsesUserNamespace {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(
      arity = "2..*",
      paramLabel = "LAYER... DEST",
      hideParamSyntax = true,
      description = "Layers (files, or - for standard input), then DEST.")
  List<String> args = new ArrayList<>();

  @Mixin Options options;

  @Option(
      names = "--digest",
      paramLabel = "sha256:HEX",
      description = "Expected digest of the layer as given; repeat once per layer, in order.")
  List<String> digests = new ArrayList<>();

  @Option(
      names = "--diff-id",
      paramLabel = "sha256:HEX",
      description = "Expected digest of the uncompressed tar; repeat once per layer, in order.")
  List<String> diffIds = new ArrayList<>();

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Option(
      names = "--into-existing",
      description =
          "Apply the layers over what an existing, non-empty DEST holds (without it such a DEST is"
              + " refused). Not staged: a failure leaves the entries applied so far.")
  boolean intoExisting;

  @Override
  public Integer call() throws Exception {
    List<String> layers = args.subList(0, args.size() - 1);
    Path dest = Path.of(args.get(args.size() - 1));
    if (digests.size() > layers.size() || diffIds.size() > layers.size()) {
      throw new CliException(
          "more --digest/--diff-id values than layers: give one per layer, in the layers' order",
          ExitCode.USAGE);
    }
    if (layers.stream().filter("-"::equals).count() > 1) {
      throw new CliException(
          "standard input ('-') can be given as a layer only once", ExitCode.USAGE);
    }
    for (String l : layers) {
      if (!l.equals("-")) {
        Inputs.requireReadable("layer", Path.of(l));
      }
      if (!l.equals("-") && Files.isDirectory(Path.of(l))) {
        throw new CliException(
            l
                + " is a directory, not a layer: for an image (an OCI layout or a docker save"
                + " directory) use 'layerctl image unpack "
                + l
                + " DEST'",
            ExitCode.USAGE);
      }
      String image = l.equals("-") ? null : ImageArchives.kind(Path.of(l));
      if (image != null) {
        throw new CliException(
            l
                + " is "
                + image
                + " (a whole image), not a layer: use 'layerctl image unpack "
                + l
                + " DEST'",
            ExitCode.USAGE);
      }
    }
    if (!intoExisting && nonEmptyDirectory(dest)) {
      throw new CliException(
          dest
              + " exists and is not empty: layerctl unpacks into a new directory, made whole or"
              + " not at all; choose a DEST that does not exist, or give --into-existing to apply"
              + " the layers over what it holds",
          ExitCode.USAGE);
    }
    List<LayerApplier.Expect> expects = new ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      try {
        expects.add(
            new LayerApplier.Expect(
                i < digests.size() ? digests.get(i) : null,
                i < diffIds.size() ? diffIds.get(i) : null));
      } catch (IllegalArgumentException e) {
        throw new CliException(
            e.getMessage() + " (for layer " + layers.get(i) + ")", ExitCode.USAGE);
      }
    }
    List<ApplyResult> results;
    try (Progress progress = Progress.forTerminal(options.quiet)) {
      LayerApplier applier = options.applier(progress);
      results =
          Staging.into(
              dest,
              root -> {
                List<ApplyResult> out = new ArrayList<>();
                for (int i = 0; i < layers.size(); i++) {
                  String l = layers.get(i);
                  applier
                      .progress()
                      .layerStarts(
                          l, i, layers.size(), l.equals("-") ? -1 : Files.size(Path.of(l)));
                  try (InputStream in = open(l)) {
                    out.add(applier.apply(l.equals("-") ? "<stdin>" : l, in, root, expects.get(i)));
                  }
                }
                return out;
              },
              note -> spec.commandLine().getErr().println("layerctl: " + note));
    }
    if (!options.quiet || json) {
      print(spec.commandLine().getOut(), spec.commandLine().getErr(), dest, results, json);
    }
    return ExitCode.OK;
  }

  /** True for an existing directory that holds something (a symlink to one counts). */
  static boolean nonEmptyDirectory(Path dest) throws IOException {
    if (!Files.isDirectory(dest)) {
      return false;
    }
    try (var s = Files.list(dest)) {
      return s.findAny().isPresent();
    }
  }

  private static InputStream open(String layer) throws IOException {
    // FileInputStreams: the applier reads their channels straight into its buffers (standard input
    // too, a file or a pipe).
    return layer.equals("-")
        ? new FileInputStream(FileDescriptor.in)
        : new FileInputStream(Path.of(layer).toFile());
  }

  static void print(
      PrintWriter out, PrintWriter err, Path dest, List<ApplyResult> results, boolean json)
      throws IOException {
    print(out, err, dest, results, json, Map.of(), List.of());
  }

  /**
   * Prints the results with more to say: {@code about} (e.g. the image) goes into the JSON document
   * before the layers, {@code warnings} (not about one layer) into it or to {@code err}.
   */
  static void print(
      PrintWriter out,
      PrintWriter err,
      Path dest,
      List<ApplyResult> results,
      boolean json,
      Map<String, Object> about,
      List<String> warnings)
      throws IOException {
    long dropped = results.stream().mapToLong(r -> r.skipped().owners()).sum();
    if (dropped > 0 && io.layerd.sys.Sys.geteuid() != 0) {
      // A plain user outside a user namespace: no owner could be given (see Options.applier).
      warnings = new ArrayList<>(warnings);
      warnings.add(
          "no user namespace: "
              + (dropped == 1
                  ? "the owner of 1 entry was"
                  : "the owners of " + dropped + " entries were")
              + " not kept, every file belongs to uid "
              + io.layerd.sys.Sys.geteuid()
              + "; fix what `layerctl doctor` reports (layerctl then enters a user namespace) and"
              + " unpack again to keep them");
    }
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("destination", dest.toAbsolutePath().toString());
      doc.putAll(about);
      doc.put("layers", results.stream().map(Json::layer).toList());
      if (!warnings.isEmpty()) {
        doc.put("warnings", warnings);
      }
      Json.print(out, doc);
    } else {
      for (String w : warnings) {
        err.println("warning: " + w);
      }
      for (ApplyResult r : results) {
        // Concatenated, not formatted: java.util.Formatter loads the locale data (CLDR) at its
        // first
        // use, a cost every run would pay for one line.
        out.println(
            r.layer()
                + ": "
                + r.digests().compression().label()
                + ", "
                + r.counts().entries()
                + " entries ("
                + r.counts().files()
                + " files, "
                + r.counts().directories()
                + " dirs, "
                + r.counts().symlinks()
                + " symlinks, "
                + r.counts().hardlinks()
                + " hardlinks, "
                + r.counts().whiteouts()
                + " whiteouts), diffID "
                + r.digests().diffId());
        for (String w : r.warnings()) {
          err.println("warning: " + r.layer() + ": " + w);
        }
      }
      out.println("unpacked into " + dest);
    }
    out.flush();
    err.flush();
  }
}
