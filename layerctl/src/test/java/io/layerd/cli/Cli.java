package io.layerd.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import picocli.CommandLine;

/** Runs layerctl in this JVM, capturing what it prints. */
final class Cli {
  private Cli() {}

  /** What a run left: exit code, standard output and standard error. */
  record Run(int code, String out, String err) {
    Run ok() {
      if (code != 0) {
        throw new AssertionError("layerctl exited " + code + ": " + err + out);
      }
      return this;
    }

    JsonNode json() throws IOException {
      return new ObjectMapper().readTree(out);
    }
  }

  static Run run(String... args) {
    CommandLine cl = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  static Run run(List<String> args) {
    return run(args.toArray(new String[0]));
  }
}
