package io.layerd.dist;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Writes, from the picocli models of {@code layerctl} and {@code layerd} (so that they cannot drift
 * from the code): one AsciiDoc man page per command and subcommand ({@code adoc/}, turned into
 * troff by Asciidoctor's manpage backend) and a bash completion script per tool ({@code
 * completions/}, which zsh also reads through bashcompinit).
 */
public final class GenerateDocs {
  private GenerateDocs() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      throw new IllegalArgumentException("usage: GenerateDocs OUTDIR");
    }
    Path out = Path.of(args[0]);
    Path adoc = out.resolve("adoc");
    Path completions = out.resolve("completions");
    Files.createDirectories(adoc);
    Files.createDirectories(completions);
    write(adoc, completions, "layerctl", commandLine("io.layerd.cli.Main"));
    write(adoc, completions, "layerd", commandLine("io.layerd.daemon.Main"));
  }

  /** The command line that {@code mainClass.commandLine()} builds, from the shaded jar. */
  private static CommandLine commandLine(String mainClass) throws IOException {
    try {
      return (CommandLine) Class.forName(mainClass).getMethod("commandLine").invoke(null);
    } catch (ReflectiveOperationException e) {
      throw new IOException("cannot build the command line of " + mainClass + ": " + e, e);
    }
  }

  private static void write(Path adoc, Path completions, String name, CommandLine cl)
      throws IOException {
    int status =
        ManPageGenerator.generateManPage(
            adoc.toFile(), (File) null, new boolean[0], false, cl.getCommandSpec());
    if (status != 0) {
      throw new IOException("the man pages of " + name + " could not be generated: " + status);
    }
    Files.writeString(
        completions.resolve(name), AutoComplete.bash(name, cl), StandardCharsets.UTF_8);
  }
}
