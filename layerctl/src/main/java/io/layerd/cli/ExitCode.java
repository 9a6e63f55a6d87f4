package io.layerd.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * layerctl's exit statuses: one table for every command, listed in every command's {@code --help}
 * and in layerctl(1). A script can tell a mistake in the command line from a bad layer, an owner
 * outside the id mapping and a system that lacks something.
 */
final class ExitCode {
  private ExitCode() {}

  /** Done. */
  static final int OK = 0;

  /** The work failed for another reason (an I/O error while writing, layerd refused, ...). */
  static final int FAILED = 1;

  /** The command line is wrong: an unknown option, a missing argument, a value out of its set. */
  static final int USAGE = 2;

  /** An owner is outside the id mapping (check-ids: some entries do not fit). */
  static final int UNMAPPED_ID = 3;

  /** An input is missing, unreadable, malformed, or does not match its digest. */
  static final int BAD_INPUT = 4;

  /**
   * The system lacks what the command needs: subordinate ids, user namespaces, newuidmap, a usable
   * driver, a running layerd, a writable destination.
   */
  static final int ENVIRONMENT = 5;

  /** The table as help shows it. */
  static Map<String, String> table() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("0", "success");
    m.put("1", "the work failed (an I/O error while writing, layerd refused, ...)");
    m.put("2", "usage error: an unknown option, a missing argument, a wrong value");
    m.put("3", "an owner outside the id mapping (check-ids: some entries do not fit)");
    m.put("4", "bad input: a layer or image missing, unreadable, malformed or not its digest");
    m.put(
        "5",
        "the system lacks something: subordinate ids, user namespaces, newuidmap, a driver, a"
            + " running layerd");
    return m;
  }
}
