package io.layerd.engine.spi;

import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Linux kernel version as uname's release gives it, distribution suffixes and all
 * ("5.15.0-91-generic", "4.18.0-513.el8.x86_64", "6.1.0-18-amd64", "6.18.44-fc-v769").
 */
public record KernelVersion(int major, int minor, int patch, String release)
    implements Comparable<KernelVersion> {
  private static final Comparator<KernelVersion> ORDER =
      Comparator.comparingInt((KernelVersion v) -> v.major)
          .thenComparingInt(v -> v.minor)
          .thenComparingInt(v -> v.patch);

  private static final Pattern VERSION = Pattern.compile("^(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

  /** Parses a release string; fails with a message naming it when it does not start with N.N. */
  public static KernelVersion parse(String release) {
    Matcher m = VERSION.matcher(release.trim());
    if (!m.find()) {
      throw new IllegalArgumentException("not a kernel release: '" + release + "'");
    }
    return new KernelVersion(
        Integer.parseInt(m.group(1)),
        Integer.parseInt(m.group(2)),
        m.group(3) == null ? 0 : Integer.parseInt(m.group(3)),
        release.trim());
  }

  /** True when this kernel is {@code major.minor} or newer. */
  public boolean atLeast(int major, int minor) {
    return this.major > major || (this.major == major && this.minor >= minor);
  }

  @Override
  public int compareTo(KernelVersion o) {
    return ORDER.compare(this, o);
  }

  @Override
  public String toString() {
    return release;
  }
}
