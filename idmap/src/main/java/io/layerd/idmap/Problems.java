package io.layerd.idmap;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What was wrong with a configuration file, each problem with its file and line. Errors are lines
 * that shadow's {@code newuidmap}/{@code newgidmap} ignore (so the range they meant to grant is not
 * granted); warnings are lines that work but probably not as meant, such as ranges shared between
 * users. Immutable.
 */
public final class Problems {
  /** How bad a problem is. */
  public enum Severity {
    /** The line is ignored: what it meant to grant is not granted. */
    ERROR,
    /** The line is used, but probably not as meant. */
    WARNING
  }

  /**
   * One problem.
   *
   * @param severity error or warning
   * @param file the file, or null when not about a file
   * @param line the 1-based line, or 0 for the file as a whole
   * @param message what is wrong, in one sentence
   */
  public record Problem(Severity severity, Path file, int line, String message) {
    public Problem {
      Objects.requireNonNull(severity, "severity");
      Objects.requireNonNull(message, "message");
    }

    /** {@code /etc/subuid:3}, or the file alone, or "" when not about a file. */
    public String where() {
      if (file == null) {
        return "";
      }
      return line > 0 ? file + ":" + line : file.toString();
    }

    /** {@code /etc/subuid:3: error: ...}, as compilers print it. */
    @Override
    public String toString() {
      String w = where();
      return (w.isEmpty() ? "" : w + ": ")
          + (severity == Severity.ERROR ? "error: " : "warning: ")
          + message;
    }
  }

  private static final Problems NONE = new Problems(List.of());

  private final List<Problem> all;

  private Problems(List<Problem> all) {
    this.all = List.copyOf(all);
  }

  public static Problems none() {
    return NONE;
  }

  public static Problems of(List<Problem> problems) {
    return problems.isEmpty() ? NONE : new Problems(problems);
  }

  /** Every problem, in the order found (by file, then line). */
  public List<Problem> all() {
    return all;
  }

  public List<Problem> errors() {
    return all.stream().filter(p -> p.severity() == Severity.ERROR).collect(Collectors.toList());
  }

  public List<Problem> warnings() {
    return all.stream().filter(p -> p.severity() == Severity.WARNING).collect(Collectors.toList());
  }

  public boolean isEmpty() {
    return all.isEmpty();
  }

  public boolean hasErrors() {
    return all.stream().anyMatch(p -> p.severity() == Severity.ERROR);
  }

  /** These problems followed by {@code other}'s. */
  public Problems plus(Problems other) {
    if (other.isEmpty()) {
      return this;
    }
    if (isEmpty()) {
      return other;
    }
    List<Problem> both = new ArrayList<>(all);
    both.addAll(other.all);
    return new Problems(both);
  }

  /** One problem a line. */
  @Override
  public String toString() {
    return all.stream().map(Problem::toString).collect(Collectors.joining("\n"));
  }
}
