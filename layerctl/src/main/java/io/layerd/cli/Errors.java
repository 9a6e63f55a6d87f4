package io.layerd.cli;

import io.layerd.idmap.RangeSuggestion;
import io.layerd.idmap.UnmappedIdException;
import io.layerd.idmap.internal.RootlessException;
import io.layerd.unpack.DigestMismatchException;
import io.layerd.unpack.InvalidArchiveException;
import io.layerd.unpack.image.ImageException;
import java.io.EOFException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipException;
import picocli.CommandLine;

/**
 * How every command fails: one short line on standard error naming the command and the problem,
 * details (if any) on the lines after it, indented; the exit status from {@link ExitCode}'s table;
 * with {@code --json}, the same as a JSON document on standard output too. A usage error is one
 * line and a pointer to {@code --help}, not the whole help. Stack traces only with LAYERD_DEBUG=1.
 */
final class Errors
    implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {

  /** An error as shown: the exit status, its kind, the first line and the details after it. */
  record Report(int exitCode, String kind, String message, List<String> details) {
    Map<String, Object> json() {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("exitCode", exitCode);
      e.put("kind", kind);
      e.put("message", message);
      e.put("details", details);
      return e;
    }
  }

  @Override
  public int handleExecutionException(
      Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) throws Exception {
    if ("1".equals(System.getenv("LAYERD_DEBUG"))) {
      ex.printStackTrace(System.err);
    }
    Report r = report(ex);
    print(cl, r, json(parseResult), about(ex));
    return r.exitCode();
  }

  @Override
  public int handleParseException(CommandLine.ParameterException ex, String[] args) {
    CommandLine cl = ex.getCommandLine();
    String name = cl.getCommandSpec().qualifiedName();
    List<String> details = new ArrayList<>();
    if (ex instanceof CommandLine.UnmatchedArgumentException) {
      List<String> s = ((CommandLine.UnmatchedArgumentException) ex).getSuggestions();
      if (!s.isEmpty()) {
        details.add("did you mean: " + String.join(", ", s) + "?");
      }
    }
    details.add("see '" + name + " --help'");
    Report r = new Report(ExitCode.USAGE, "usage", ex.getMessage(), details);
    print(cl, r, Arrays.asList(args).contains("--json"), Map.of());
    return r.exitCode();
  }

  /**
   * Shows a failure found outside a command's own code (the rootless hook's, before the command
   * runs) as every command's failures are shown, JSON included when the command was given {@code
   * --json}; returns its exit status.
   */
  static int show(CommandLine cl, CommandLine.ParseResult parseResult, Throwable ex) {
    Report r = report(ex);
    print(cl, r, json(parseResult), about(ex));
    return r.exitCode();
  }

  private static void print(CommandLine cl, Report r, boolean json, Map<String, Object> extra) {
    PrintWriter err = cl.getErr();
    err.println(cl.getCommandSpec().qualifiedName() + ": " + r.message());
    for (String d : r.details()) {
      err.println("  " + d);
    }
    err.flush();
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      Map<String, Object> e = r.json();
      e.putAll(extra);
      doc.put("error", e);
      try {
        Json.print(cl.getOut(), doc);
      } catch (java.io.IOException impossible) {
        // a map of strings and numbers always serialises
      }
      cl.getOut().flush();
    }
  }

  /** What the JSON error says beyond the report: an unmapped id's layer, entry, id and remedy. */
  private static Map<String, Object> about(Throwable ex) {
    for (Throwable t = ex; t != null; t = t.getCause()) {
      if (t instanceof UnmappedIdException) {
        UnmappedIdException u = (UnmappedIdException) t;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("layer", u.layer());
        m.put("entry", u.entryPath());
        m.put("idKind", u.kind().label());
        m.put("id", u.id());
        m.put("user", u.user().orElse(null));
        m.put("idsHeld", u.idsHeld());
        m.put("idsNeeded", u.idsNeeded());
        m.put(
            "remedy",
            u.suggestions().isEmpty() || u.user().isEmpty()
                ? null
                : RangeSuggestion.usermodCommand(u.suggestions(), u.user().get()));
        return m;
      }
    }
    return Map.of();
  }

  /** Whether the command that ran was given --json. */
  private static boolean json(CommandLine.ParseResult pr) {
    CommandLine.ParseResult p = pr;
    while (p.subcommand() != null) {
      p = p.subcommand();
    }
    return p.hasMatchedOption("--json")
        && Boolean.TRUE.equals(p.matchedOptionValue("--json", false));
  }

  /** The report for a failure, its exit status chosen by what caused it. */
  static Report report(Throwable ex) {
    String msg = message(ex);
    for (Throwable t = ex; t != null; t = t.getCause()) {
      if (t instanceof CliException) {
        int code = ((CliException) t).exitCode();
        return new Report(code, kind(code), message(t), List.of());
      }
      if (t instanceof UnmappedIdException) {
        return unmapped((UnmappedIdException) t);
      }
      if (t instanceof RootlessException) {
        // Its first line says what failed; each missing prerequisite and its remedy follow.
        List<String> lines = message(t).lines().map(String::strip).toList();
        return new Report(
            ExitCode.ENVIRONMENT, "environment", lines.get(0), lines.subList(1, lines.size()));
      }
      if (t instanceof InvalidArchiveException
          || t instanceof ImageException
          || t instanceof DigestMismatchException
          || t instanceof ZipException
          || t instanceof EOFException) {
        return new Report(ExitCode.BAD_INPUT, "bad-input", msg, List.of());
      }
    }
    return new Report(ExitCode.FAILED, "failed", msg, List.of());
  }

  static String kind(int code) {
    switch (code) {
      case ExitCode.USAGE:
        return "usage";
      case ExitCode.UNMAPPED_ID:
        return "unmapped-id";
      case ExitCode.BAD_INPUT:
        return "bad-input";
      case ExitCode.ENVIRONMENT:
        return "environment";
      default:
        return "failed";
    }
  }

  private static String message(Throwable t) {
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }

  /**
   * The unmapped-id error for a terminal: the entry, the owner and the verdict on the first line;
   * the mapping in force and the remedy after it. layerctl makes its namespace afresh at every run,
   * so its remedy ends with running the command again, not with restarting a daemon.
   */
  static Report unmapped(UnmappedIdException e) {
    String who = e.kind().label() + " " + e.id();
    String first =
        "\""
            + e.entryPath()
            + "\" in layer "
            + e.layer()
            + " is owned by "
            + who
            + (e.reason() == UnmappedIdException.Reason.INVALID_ID
                ? ", which is not a valid id"
                : ", which the id mapping does not cover");
    List<String> details = new ArrayList<>();
    String full = message(e);
    String problem =
        full.endsWith(e.remedy())
            ? full.substring(0, full.length() - e.remedy().length()).strip()
            : full;
    details.add(problem);
    String policies =
        "or unpack with --on-unmapped-id=squash (such entries go to the namespace's root) or"
            + " --on-unmapped-id=skip (they keep the owner they were created with)";
    if (e.reason() == UnmappedIdException.Reason.NAMESPACE
        && e.user().isPresent()
        && !e.suggestions().isEmpty()) {
      List<RangeSuggestion> s = e.suggestions();
      details.add(
          "fix: "
              + RangeSuggestion.usermodCommand(s, e.user().get())
              + ", then run the command again (layerctl maps the new ranges in its next"
              + " namespace)");
      details.add(policies);
    } else if (e.reason() == UnmappedIdException.Reason.NAMESPACE && e.user().isPresent()) {
      details.add(
          "fix: "
              + e.user().get()
              + " has enough subordinate "
              + e.kind().label()
              + "s, but this namespace was made without all of them (util-linux `unshare"
              + " --map-auto` maps only the first range): run layerctl outside it, and it makes its"
              + " own namespace with all of them");
      details.add(policies);
    } else {
      details.add(e.remedy());
    }
    return new Report(ExitCode.UNMAPPED_ID, "unmapped-id", first, details);
  }
}
