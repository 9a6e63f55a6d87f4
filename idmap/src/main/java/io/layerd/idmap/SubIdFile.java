package io.layerd.idmap;

import io.layerd.idmap.Problems.Problem;
import io.layerd.idmap.Problems.Severity;
import io.layerd.idmap.internal.Ids;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A parsed {@code /etc/subuid} or {@code /etc/subgid}, read the way shadow's {@code
 * subordinate_parse} (lib/subordinateio.c) reads it, so that the ranges here are exactly the ones
 * {@code newuidmap}/{@code newgidmap} grant.
 *
 * <p>Each line is {@code owner:start:count}. The owner is a user name or a numeric uid, compared
 * exactly (shadow's {@code list_owner_ranges}); one owner may have several lines, kept in file
 * order, which is the order the rootless layout maps them in. Numbers are read like {@code
 * strtoul(s, &end, 0)} as shadow does: leading white space and a {@code +} are allowed, {@code 0x}
 * means hexadecimal and a leading {@code 0} octal, and anything after the digits (even a space)
 * makes shadow ignore the line. Text after a third colon is ignored by shadow too.
 *
 * <p>Blank lines and lines whose first non-blank character is {@code #} are skipped silently. Every
 * other line that shadow would ignore is reported as an {@linkplain Severity#ERROR error} with its
 * file and line (missing field, non-numeric or negative number, zero count, a range past the
 * highest id 4294967294); lines that work but look wrong are {@linkplain Severity#WARNING
 * warnings}: an owner with surrounding white space (it never matches a user), a hexadecimal or
 * octal number (Go tools read decimal only), extra fields, and ranges that overlap another line
 * (two users who can map the same host ids can reach each other's files; one user's overlapping
 * lines make {@code newuidmap} fail).
 *
 * <p>A missing file is not an error: it has no ranges and {@link #present()} is false.
 */
public final class SubIdFile {
  /** shadow refuses lines of 1024 bytes or more (its {@code rangebuf}). */
  private static final int MAX_LINE = 1023;

  private final Path path;
  private final boolean present;
  private final List<SubIdRange> ranges;
  private final Problems problems;

  private SubIdFile(Path path, boolean present, List<SubIdRange> ranges, Problems problems) {
    this.path = path;
    this.present = present;
    this.ranges = List.copyOf(ranges);
    this.problems = problems;
  }

  /** Reads and parses {@code file}; a missing file gives an empty, not {@link #present()}, one. */
  public static SubIdFile parse(Path file) throws IOException {
    String text;
    try {
      text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return new SubIdFile(file, false, List.of(), Problems.none());
    }
    return parse(file, text);
  }

  /** Parses {@code content} as if read from {@code file} (which is only used in messages). */
  public static SubIdFile parse(Path file, String content) {
    Objects.requireNonNull(file, "file");
    List<SubIdRange> ranges = new ArrayList<>();
    List<Problem> problems = new ArrayList<>();
    String[] lines = content.split("\n", -1);
    int count = content.endsWith("\n") ? lines.length - 1 : lines.length;
    for (int i = 0; i < count; i++) {
      parseLine(file, i + 1, lines[i], ranges, problems);
    }
    problems.addAll(overlaps(file, ranges));
    problems.sort(Comparator.comparingInt(Problem::line));
    return new SubIdFile(file, true, ranges, Problems.of(problems));
  }

  /** An empty file at {@code file} that does not exist. */
  public static SubIdFile absent(Path file) {
    return new SubIdFile(file, false, List.of(), Problems.none());
  }

  /** The system's file for {@code kind}: {@code /etc/subuid} or {@code /etc/subgid}. */
  public static SubIdFile read(IdKind kind) throws IOException {
    return parse(kind.defaultSubIdFile());
  }

  private static void parseLine(
      Path file, int n, String line, List<SubIdRange> out, List<Problem> problems) {
    String trimmed = line.strip();
    if (trimmed.isEmpty() || trimmed.startsWith("#")) {
      return;
    }
    if (line.getBytes(StandardCharsets.UTF_8).length > MAX_LINE) {
      problems.add(error(file, n, "the line is longer than 1023 bytes, which shadow ignores"));
      return;
    }
    // shadow: strsep over ':' for three fields; anything after a third ':' is dropped.
    String[] f = line.split(":", 4);
    if (f.length < 3) {
      problems.add(
          error(
              file,
              n,
              "expected owner:start:count but found "
                  + Ids.plural(f.length, "field", "fields")
                  + " in \""
                  + line
                  + "\""));
      return;
    }
    String owner = f[0];
    String[] names = {"owner", "start", "count"};
    for (int k = 0; k < 3; k++) {
      if (f[k].isEmpty()) {
        problems.add(error(file, n, "the " + names[k] + " field is empty in \"" + line + "\""));
        return;
      }
    }
    Long start = number(file, n, "start", f[1], problems);
    Long cnt = number(file, n, "count", f[2], problems);
    if (start == null || cnt == null) {
      return;
    }
    if (cnt == 0) {
      problems.add(error(file, n, "the count is 0: the range \"" + line + "\" grants no ids"));
      return;
    }
    if (start > Ids.MAX_ID || start + cnt > Ids.LIMIT) {
      problems.add(
          error(
              file,
              n,
              "the range "
                  + start
                  + "-"
                  + BigInteger.valueOf(start).add(BigInteger.valueOf(cnt - 1))
                  + " goes past 4294967294, the highest 32-bit id; the kernel refuses to map it"));
      return;
    }
    if (!owner.equals(owner.strip())) {
      problems.add(
          warning(
              file,
              n,
              "the owner \""
                  + owner
                  + "\" has white space around it; shadow compares owners exactly, so this range"
                  + " never applies to \""
                  + owner.strip()
                  + "\""));
    }
    if (f.length == 4) {
      problems.add(
          warning(file, n, "text after the third field (\":" + f[3] + "\") is ignored by shadow"));
    }
    out.add(new SubIdRange(owner, start, cnt, file, n));
  }

  /**
   * strtoul(s, &end, 0) with shadow's checks: the whole field must be digits, no minus sign, no
   * overflow past 2^64 - 1. Returns null (and records the problem) when shadow would refuse it, and
   * also for values past 2^63 - 1, which are far past any valid id anyway.
   */
  private static Long number(Path file, int n, String what, String s, List<Problem> problems) {
    int i = 0;
    while (i < s.length() && isCSpace(s.charAt(i))) {
      i++;
    }
    if (i < s.length() && s.charAt(i) == '-') {
      problems.add(error(file, n, "the " + what + " \"" + s + "\" is negative"));
      return null;
    }
    if (i < s.length() && s.charAt(i) == '+') {
      i++;
    }
    int radix = 10;
    if (s.startsWith("0x", i) || s.startsWith("0X", i)) {
      if (i + 2 < s.length() && Character.digit(s.charAt(i + 2), 16) >= 0) {
        radix = 16;
        i += 2;
      }
    } else if (s.startsWith("0", i) && i + 1 < s.length()) {
      radix = 8;
    }
    int digitsStart = i;
    while (i < s.length() && Character.digit(s.charAt(i), radix) >= 0 && s.charAt(i) < 128) {
      i++;
    }
    if (i == digitsStart) {
      problems.add(error(file, n, "the " + what + " \"" + s + "\" is not a number"));
      return null;
    }
    if (i < s.length()) {
      String rest = s.substring(i);
      String why =
          rest.equals("\r")
              ? "ends in a carriage return (DOS line ending)"
              : rest.strip().isEmpty() ? "has white space after it" : "is not a number";
      problems.add(
          error(
              file,
              n,
              "the "
                  + what
                  + " \""
                  + s.replace("\r", "\\r")
                  + "\" "
                  + why
                  + ", which shadow refuses"));
      return null;
    }
    BigInteger v = new BigInteger(s.substring(digitsStart, i), radix);
    if (v.bitLength() > 63) {
      problems.add(error(file, n, "the " + what + " \"" + s + "\" is too large for an id"));
      return null;
    }
    if (radix != 10) {
      problems.add(
          warning(
              file,
              n,
              "the "
                  + what
                  + " \""
                  + s
                  + "\" is read by shadow as "
                  + (radix == 16 ? "hexadecimal" : "octal")
                  + " ("
                  + v
                  + "); tools that read decimal only (rootlesskit, dockerd) refuse or misread it"));
    }
    return v.longValue();
  }

  private static boolean isCSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\u000b' || c == '\f' || c == '\r';
  }

  /** Overlaps between lines, reported on the later line. */
  private static List<Problem> overlaps(Path file, List<SubIdRange> ranges) {
    List<SubIdRange> sorted = new ArrayList<>(ranges);
    sorted.sort(Comparator.comparingLong(SubIdRange::start).thenComparingInt(SubIdRange::line));
    List<Problem> out = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      SubIdRange a = sorted.get(i);
      for (int j = i + 1; j < sorted.size() && sorted.get(j).start() < a.end(); j++) {
        SubIdRange b = sorted.get(j);
        boolean aFirst = a.line() <= b.line();
        SubIdRange first = aFirst ? a : b;
        SubIdRange later = aFirst ? b : a;
        String shared =
            Ids.span(
                Math.max(a.start(), b.start()),
                Math.min(a.end(), b.end()) - Math.max(a.start(), b.start()));
        String msg =
            first.owner().equals(later.owner())
                ? "the range "
                    + Ids.span(later.start(), later.count())
                    + " overlaps line "
                    + first.line()
                    + " of the same owner \""
                    + later.owner()
                    + "\" (ids "
                    + shared
                    + "): a namespace cannot map a host id twice, so newuidmap/newgidmap will"
                    + " refuse the rootless layout"
                : "the range "
                    + Ids.span(later.start(), later.count())
                    + " of \""
                    + later.owner()
                    + "\" overlaps the range "
                    + Ids.span(first.start(), first.count())
                    + " of \""
                    + first.owner()
                    + "\" at line "
                    + first.line()
                    + " (ids "
                    + shared
                    + "): both users can map the same host ids and reach each other's files";
        out.add(new Problem(Severity.WARNING, file, later.line(), msg));
      }
    }
    return out;
  }

  private static Problem error(Path file, int line, String msg) {
    return new Problem(Severity.ERROR, file, line, msg);
  }

  private static Problem warning(Path file, int line, String msg) {
    return new Problem(Severity.WARNING, file, line, msg);
  }

  /** The file this was read from. */
  public Path path() {
    return path;
  }

  /** False when the file does not exist. */
  public boolean present() {
    return present;
  }

  /** Every valid range of every owner, in file order. */
  public List<SubIdRange> ranges() {
    return ranges;
  }

  /** Lines shadow ignores (errors) and lines that look wrong (warnings). */
  public Problems problems() {
    return problems;
  }

  /**
   * The ranges of one user, in file order: lines whose owner is the user's name or the user's uid
   * as a decimal number, as shadow's {@code list_owner_ranges} matches them. For {@code
   * /etc/subgid} too the owner is the user (newgidmap checks the user's name and uid).
   */
  public List<SubIdRange> rangesFor(String userName, long uid) {
    return ranges.stream().filter(r -> r.ownedBy(userName, uid)).collect(Collectors.toList());
  }

  /** How many ids {@link #rangesFor} grants in total. */
  public long countFor(String userName, long uid) {
    return rangesFor(userName, uid).stream().mapToLong(SubIdRange::count).sum();
  }

  /** Every line (any owner) that shares an id with {@code start..start+count-1}. */
  public List<SubIdRange> overlapping(long start, long count) {
    return ranges.stream().filter(r -> r.overlaps(start, count)).collect(Collectors.toList());
  }

  @Override
  public String toString() {
    return path + " (" + Ids.plural(ranges.size(), "range", "ranges") + ")";
  }
}
