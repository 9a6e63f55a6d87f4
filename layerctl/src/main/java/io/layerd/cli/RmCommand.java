package io.layerd.cli;

import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerctl rm DIR...}: removes trees whose files belong to subordinate ids (what a rootless
 * unpack makes), which their user cannot remove outside the user namespace. Run by a non-root user
 * it runs inside the rootless namespace ({@link UsesUserNamespace}), where those ids are mapped.
 */
@Command(
    name = "rm",
    mixinStandardHelpOptions = true,
    description = {
      "Remove directory trees, never following a symlink, with every file in them.",
      "Made for what a rootless unpack leaves: files owned by subordinate ids, which their user"
          + " cannot remove outside the user namespace. Run by a non-root user, it runs inside"
          + " that namespace (see --rootless), as `layerctl unshare rm -rf DIR` would."
    },
    footerHeading = "%nExamples:%n",
    footer = {"  layerctl rm rootfs", "  layerctl rm -f rootfs1 rootfs2"})
final class RmCommand implements Callable<Integer>, UsesUserNamespace {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "DIR", description = "The trees to remove.")
  List<Path> dirs;

  @Option(
      names = {"-f", "--force"},
      description = "Say nothing of a DIR that does not exist.")
  boolean force;

  @Override
  public Integer call() throws Exception {
    for (Path d : dirs) {
      Path name = d.getFileName();
      Path abs = d.toAbsolutePath().normalize();
      if (name == null
          || name.toString().equals(".")
          || name.toString().equals("..")
          || abs.getParent() == null) {
        throw new CliException("refusing to remove '" + d + "'", ExitCode.USAGE);
      }
    }
    for (Path d : dirs) {
      if (!Files.exists(d, LinkOption.NOFOLLOW_LINKS)) {
        if (force) {
          continue;
        }
        throw new CliException(
            "cannot remove " + d + ": no such file or directory", ExitCode.BAD_INPUT);
      }
      Path abs = d.toAbsolutePath().normalize();
      try (Fd parent = Sys.openDirectory(abs.getParent().toString())) {
        Trees.removeAll(parent.get(), abs.getFileName().toString());
      }
    }
    return ExitCode.OK;
  }
}
