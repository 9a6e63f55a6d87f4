package io.layerd.dist;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Writes, from the picocli models of {@code layerctl} and {@code layerd} (so that they cannot drift
 * from the code): one AsciiDoc man page per command and subcommand ({@code adoc/}, turned into
 * troff by Asciidoctor's manpage backend), and per tool a bash completion (picocli's AutoComplete,
 * {@code share/bash-completion/completions/NAME}) and a zsh completion ({@code
 * share/zsh/vendor-completions/_NAME}), laid out as installed. picocli generates bash only, and no
 * fish (remkop/picocli#725): the zsh completion is an autoloaded function that runs the bash one
 * through zsh's bashcompinit, which picocli's script supports.
 */
public final class GenerateDocs {
  private GenerateDocs() {}

  /** Where bash-completion looks for a command's completion (Debian: under /usr). */
  static final String BASH = "share/bash-completion/completions";

  /** A directory of zsh's $fpath for packages' completions (Debian: under /usr). */
  static final String ZSH = "share/zsh/vendor-completions";

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      throw new IllegalArgumentException("usage: GenerateDocs OUTDIR");
    }
    Path out = Path.of(args[0]);
    Path adoc = out.resolve("adoc");
    Files.createDirectories(adoc);
    Files.createDirectories(out.resolve(BASH));
    Files.createDirectories(out.resolve(ZSH));
    write(adoc, out, "layerctl", commandLine("io.layerd.cli.Main"));
    write(adoc, out, "layerd", commandLine("io.layerd.daemon.Main"));
  }

  /** The command line that {@code mainClass.commandLine()} builds, from the shaded jar. */
  private static CommandLine commandLine(String mainClass) throws IOException {
    try {
      return (CommandLine) Class.forName(mainClass).getMethod("commandLine").invoke(null);
    } catch (ReflectiveOperationException e) {
      throw new IOException("cannot build the command line of " + mainClass + ": " + e, e);
    }
  }

  private static void write(Path adoc, Path out, String name, CommandLine cl) throws IOException {
    int status =
        ManPageGenerator.generateManPage(
            adoc.toFile(), (File) null, new boolean[0], false, cl.getCommandSpec());
    if (status != 0) {
      throw new IOException("the man pages of " + name + " could not be generated: " + status);
    }
    String bash = AutoComplete.bash(name, cl);
    Files.writeString(out.resolve(BASH).resolve(name), bash, StandardCharsets.UTF_8);
    Files.writeString(
        out.resolve(ZSH).resolve("_" + name), zsh(name, bash), StandardCharsets.UTF_8);
  }

  /** The {@code complete -F FUNCTION} line that ends picocli's bash completion. */
  private static final Pattern COMPLETE = Pattern.compile("(?m)^complete -F (\\S+) -o default ");

  /**
   * The zsh completion of {@code name}: on the first TAB after {@code name}, zsh autoloads it from
   * its $fpath; it sources the bash completion {@code bash} (from where the tarball and the package
   * put it, relative to itself), which loads bashcompinit and binds {@code name} to the bash
   * function for the next TABs, and answers this one through that function.
   */
  static String zsh(String name, String bash) throws IOException {
    Matcher m = COMPLETE.matcher(bash);
    if (!m.find()) {
      throw new IOException("picocli's bash completion of " + name + " has no 'complete -F' line");
    }
    return "#compdef "
        + name
        + "\n"
        + "# "
        + name
        + "'s completion for zsh, generated with the bash completion it runs (picocli's, from the\n"
        + "# same command model) through zsh's bashcompinit. Found by zsh in a directory of $fpath\n"
        + "# (Debian's /usr/share/zsh/vendor-completions, where the package installs it); the bash\n"
        + "# completion is read from ../../bash-completion/completions/"
        + name
        + " beside it.\n"
        + "# bash's compopt has no zsh counterpart: the bash completion aliases it, but completion\n"
        + "# functions run without aliases, so a function that does nothing stands in.\n"
        + "(( $+functions[compopt] )) || compopt() { : }\n"
        + "source \"${functions_source[_"
        + name
        + "]:A:h}/../../bash-completion/completions/"
        + name
        + "\" || return 1\n"
        + "_bash_complete -F "
        + m.group(1)
        + " -o default\n";
  }
}
