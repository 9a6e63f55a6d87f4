package io.layerd.unpack.image;

import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An image platform as OCI indexes name it: {@code os/architecture[/variant]} with Go's names
 * ({@code linux/amd64}, {@code linux/arm64/v8}, {@code linux/arm/v7}).
 *
 * <p>Two platforms match when their operating systems and architectures are equal and, if this
 * platform names a variant, their variants are equal after normalising the defaults ({@code arm64}
 * is {@code v8} unless said otherwise, {@code arm} is {@code v7}, {@code amd64} is {@code v1}) —
 * the rules of containerd's platform matcher.
 *
 * @param os the operating system, e.g. "linux"
 * @param architecture the architecture in Go's spelling, e.g. "amd64", "arm64"
 * @param variant the CPU variant, e.g. "v8", or null when not given
 */
public record Platform(String os, String architecture, String variant) {
  private static final Pattern PART = Pattern.compile("[a-z0-9][a-z0-9._-]*");

  public Platform {
    Objects.requireNonNull(os, "os");
    Objects.requireNonNull(architecture, "architecture");
    if (variant != null && variant.isEmpty()) {
      variant = null;
    }
  }

  /**
   * Parses {@code os/architecture[/variant]}, e.g. "linux/arm64/v8"; Java and kernel spellings of
   * the architecture (x86_64, aarch64) are turned into Go's.
   *
   * @throws IllegalArgumentException naming the text when it is not a platform
   */
  public static Platform parse(String text) {
    String[] p = text.strip().toLowerCase(Locale.ROOT).split("/", -1);
    if (p.length < 2 || p.length > 3) {
      throw new IllegalArgumentException(
          "not a platform: '" + text + "' (expected os/architecture[/variant], e.g. linux/arm64)");
    }
    for (String s : p) {
      if (!PART.matcher(s).matches()) {
        throw new IllegalArgumentException(
            "not a platform: '"
                + text
                + "' (expected os/architecture[/variant], e.g. linux/arm64; each part of letters,"
                + " digits, '.', '_' or '-')");
      }
    }
    return new Platform(p[0], goArchitecture(p[1]), p.length == 3 ? p[2] : null);
  }

  /** The platform of this machine: linux and the JVM's os.arch in Go's spelling. */
  public static Platform current() {
    return new Platform(
        "linux", goArchitecture(System.getProperty("os.arch", "").toLowerCase(Locale.ROOT)), null);
  }

  /**
   * Go's name for an architecture as Java ({@code os.arch}) or the kernel ({@code uname -m}) names
   * it; names Go already uses, and unknown names, are returned as they are.
   */
  static String goArchitecture(String arch) {
    switch (arch) {
      case "x86_64":
      case "x86-64":
      case "amd64":
        return "amd64";
      case "aarch64":
      case "arm64":
        return "arm64";
      case "x86":
      case "i386":
      case "i486":
      case "i586":
      case "i686":
      case "386":
        return "386";
      case "arm":
      case "armhf":
      case "armel":
      case "aarch32":
        return "arm";
      case "ppc64le":
      case "powerpc64le":
        return "ppc64le";
      case "mips64el":
      case "mips64le":
        return "mips64le";
      case "loongarch64":
      case "loong64":
        return "loong64";
      default:
        return arch;
    }
  }

  /** The variant with the architecture's default filled in or removed, for comparisons. */
  String normalizedVariant() {
    String v = variant == null ? "" : variant;
    switch (architecture) {
      case "arm64":
        return v.equals("v8") ? "" : v;
      case "amd64":
        return v.equals("v1") ? "" : v;
      case "arm":
        return v.isEmpty() ? "v7" : v;
      default:
        return v;
    }
  }

  /**
   * Whether {@code candidate} (a platform an image offers) runs here when this is the platform
   * asked for: same os and architecture and, when this names a variant, the same variant.
   */
  public boolean matches(Platform candidate) {
    if (!os.equals(candidate.os) || !architecture.equals(goArchitecture(candidate.architecture))) {
      return false;
    }
    return variant == null || normalizedVariant().equals(candidate.normalizedVariant());
  }

  /** Whether the candidate's variant is exactly what this platform means (a better match). */
  boolean matchesExactly(Platform candidate) {
    return matches(candidate) && normalizedVariant().equals(candidate.normalizedVariant());
  }

  @Override
  public String toString() {
    return os + "/" + architecture + (variant == null ? "" : "/" + variant);
  }
}
