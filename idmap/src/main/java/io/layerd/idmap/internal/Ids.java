package io.layerd.idmap.internal;

import java.util.Locale;

/** Constants and formatting shared by the module's packages. */
public final class Ids {
  private Ids() {}

  /**
   * The exclusive upper end of valid ids: ids are unsigned 32-bit, and {@code (uid_t) -1} =
   * 4294967295 is never an id (chown's "leave unchanged"). The kernel refuses a map line whose
   * first id plus count wraps past it, which is why the initial namespace shows {@code 0 0
   * 4294967295}.
   */
  public static final long LIMIT = 4294967295L;

  /** The highest valid id. */
  public static final long MAX_ID = LIMIT - 1;

  /** The block size rootless documentation and useradd use (SUB_UID_COUNT in login.defs). */
  public static final long BLOCK = 65536;

  /** Where useradd starts allocating subordinate ids (SUB_UID_MIN in login.defs). */
  public static final long SUB_ID_MIN = 100000;

  public static boolean valid(long id) {
    return id >= 0 && id <= MAX_ID;
  }

  /** 65536 as "65,536". */
  public static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  /** "100000-165535", or "7" for a single id. */
  public static String span(long first, long count) {
    return count == 1 ? Long.toString(first) : first + "-" + (first + count - 1);
  }

  public static String plural(long n, String one, String many) {
    return count(n) + " " + (n == 1 ? one : many);
  }
}
