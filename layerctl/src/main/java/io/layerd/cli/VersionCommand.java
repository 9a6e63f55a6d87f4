package io.layerd.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code layerctl version}: the same as {@code layerctl --version}. */
@Command(
    name = "version",
    mixinStandardHelpOptions = true,
    description = "Print layerctl's version (as --version does).",
    footerHeading = "%nExamples:%n",
    footer = {"  layerctl version"})
final class VersionCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    for (String line : new Main.Version().getVersion()) {
      spec.commandLine().getOut().println(line);
    }
    spec.commandLine().getOut().flush();
    return ExitCode.OK;
  }
}
