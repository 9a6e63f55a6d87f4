package io.layerd.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code layerctl help [COMMAND...]}: the help of a command at any depth ({@code layerctl help
 * image unpack}), where picocli's own help command looks one level down only.
 */
@Command(
    name = "help",
    helpCommand = true,
    description = "Show the help of layerctl, or of the command named (at any depth).",
    footerHeading = "%nExamples:%n",
    footer = {"  layerctl help unpack", "  layerctl help image unpack"})
final class HelpCommand implements Runnable, CommandLine.IHelpCommandInitializable2 {
  @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "A command and subcommands.")
  List<String> path = new ArrayList<>();

  private CommandLine self;
  private CommandLine.Help.ColorScheme colors;
  private PrintWriter out;

  @Override
  public void init(
      CommandLine helpCommandLine,
      CommandLine.Help.ColorScheme colorScheme,
      PrintWriter outWriter,
      PrintWriter errWriter) {
    this.self = helpCommandLine;
    this.colors = colorScheme;
    this.out = outWriter;
  }

  @Override
  public void run() {
    CommandLine c = self.getParent();
    for (String name : path) {
      CommandLine sub = c.getSubcommands().get(name);
      if (sub == null) {
        throw new CommandLine.ParameterException(
            self,
            "no command '"
                + name
                + "' in '"
                + c.getCommandSpec().qualifiedName()
                + "'; its commands: "
                + String.join(", ", c.getSubcommands().keySet()));
      }
      c = sub;
    }
    c.usage(out, colors);
  }
}
