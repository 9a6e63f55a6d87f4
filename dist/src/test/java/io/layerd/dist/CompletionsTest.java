package io.layerd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.Require;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The completions GenerateDocs writes, laid out as the tarball and the package install them, run by
 * the shells themselves: bash's through its completion function, zsh's at a real TAB in an
 * interactive zsh (under zsh's zpty), where it is autoloaded from $fpath and runs the bash one
 * through bashcompinit.
 */
class CompletionsTest {
  @TempDir static Path docs;

  @BeforeEach
  void generate() throws IOException {
    if (!Files.exists(docs.resolve(GenerateDocs.BASH).resolve("layerctl"))) {
      GenerateDocs.main(new String[] {docs.toString()});
    }
  }

  /** Runs {@code shell -c script} without rc files: its exit status, standard output and error. */
  private static String[] run(String shell, String script)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile(docs, "out", "");
    Path err = Files.createTempFile(docs, "err", "");
    Process p =
        new ProcessBuilder(shell, shell.endsWith("bash") ? "--norc" : "-f", "-c", script)
            .redirectOutput(out.toFile())
            .redirectError(err.toFile())
            .start();
    p.getOutputStream().close();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor();
    }
    return new String[] {
      Integer.toString(p.exitValue()),
      Files.readString(out).replace("\r", ""),
      "exit "
          + p.exitValue()
          + "; stdout: "
          + Files.readString(out)
          + "; stderr: "
          + Files.readString(err)
    };
  }

  @Test
  void bashCompletesSubcommandsAndOptions() throws Exception {
    Path bash = Require.command("bash");
    Path layerctl = docs.resolve(GenerateDocs.BASH).resolve("layerctl");
    String[] r =
        run(
            bash.toString(),
            ". '"
                + layerctl
                + "'\n"
                + "at() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\";"
                + " COMP_POINT=${#COMP_LINE}; COMPREPLY=();"
                + " _complete_layerctl layerctl \"${@: -1}\" \"${@: -2:1}\"; echo \"${COMPREPLY[*]}\"; }\n"
                + "at layerctl ima\n"
                + "at layerctl image unpack --on-unm\n");
    assertEquals("0", r[0], r[2]);
    assertEquals("image\n--on-unmapped-id\n", r[1], r[2]);
  }

  /**
   * In an interactive zsh with the completion directory in $fpath and compinit run, as a user has
   * it: TAB completes a subcommand and an option of layerctl, and a subcommand of layerd. zpty
   * waits for each completion's text; a TAB that completes nothing fails the test at the time
   * limit, with what zsh printed.
   */
  @Test
  void zshCompletesAtATab() throws Exception {
    Path zsh = Require.command("zsh");
    Path fpath = docs.resolve(GenerateDocs.ZSH);
    assertTrue(Files.readString(fpath.resolve("_layerctl")).startsWith("#compdef layerctl\n"));
    String script =
        String.join(
            "\n",
            "zmodload zsh/zpty || exit 2",
            "zpty z zsh -f -i",
            "zpty -w z \"PROMPT='RE''ADY> '; fpath=('"
                + fpath
                + "' \\$fpath); autoload -U compinit && compinit -u -D\"",
            "zpty -r z out '*READY> *' || exit 3",
            "tab() { zpty -w -n z $'\\x15'\"$1\"$'\\t'; zpty -r z out \"*$2*\" || exit 4;"
                + " print -r -- \"completed: $2\"; }",
            "tab 'layerctl ima' 'layerctl image'",
            "tab 'layerctl image unpack --on-unm' '--on-unmapped-id'",
            "tab 'layerd conf' 'layerd config'",
            "zpty -d z");
    String[] r = run(zsh.toString(), script);
    assertEquals("0", r[0], r[2]);
    assertEquals(
        "completed: layerctl image\ncompleted: --on-unmapped-id\ncompleted: layerd config\n",
        r[1],
        r[2]);
  }
}
