package io.layerd.driver.fuseoverlayfs;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fuse-overlayfs version, as {@code fuse-overlayfs --version} prints it ({@code "fuse-overlayfs:
 * version 1.10"}, then the FUSE library's and fusermount's versions).
 */
record FuseOverlayfsVersion(int major, int minor, int patch)
    implements Comparable<FuseOverlayfsVersion> {
  private static final Comparator<FuseOverlayfsVersion> ORDER =
      Comparator.comparingInt((FuseOverlayfsVersion v) -> v.major)
          .thenComparingInt(v -> v.minor)
          .thenComparingInt(v -> v.patch);

  private static final Pattern LINE =
      Pattern.compile("fuse-overlayfs:\\s+version\\s+(\\d+)\\.(\\d+)(?:\\.(\\d+))?");

  /** How long {@code --version} may take. */
  private static final long TIMEOUT_SECONDS = 10;

  /**
   * The first version that reads {@code user.overlay.*} markers (NEWS, 1.8: "honor user.overlay.
   * xattrs"): what the engine writes for a layer applied in a user namespace.
   */
  static final FuseOverlayfsVersion MIN_USER_NAMESPACE = new FuseOverlayfsVersion(1, 8, 0);

  /** The first version that accepts the {@code ro} mount option (NEWS, 1.1.0). */
  static final FuseOverlayfsVersion MIN_ROOT = new FuseOverlayfsVersion(1, 1, 0);

  /** Finds the version in {@code --version} output, or fails naming the output. */
  static FuseOverlayfsVersion parse(String output) throws IOException {
    Matcher m = LINE.matcher(output);
    if (!m.find()) {
      throw new IOException(
          "no 'fuse-overlayfs: version N.N' line in its --version output: '"
              + output.strip()
              + "'");
    }
    return new FuseOverlayfsVersion(
        Integer.parseInt(m.group(1)),
        Integer.parseInt(m.group(2)),
        m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
  }

  /** Runs {@code BINARY --version} and parses what it prints (on stdout or stderr). */
  static FuseOverlayfsVersion of(Path binary) throws IOException {
    List<String> cmd = List.of(binary.toString(), "--version");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    try {
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(
            String.join(" ", cmd) + " did not finish in " + TIMEOUT_SECONDS + " s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while running " + String.join(" ", cmd));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return parse(out);
  }

  boolean atLeast(FuseOverlayfsVersion other) {
    return compareTo(other) >= 0;
  }

  @Override
  public int compareTo(FuseOverlayfsVersion o) {
    return ORDER.compare(this, o);
  }

  @Override
  public String toString() {
    return patch == 0 ? major + "." + minor : major + "." + minor + "." + patch;
  }
}
