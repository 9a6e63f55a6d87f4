package io.layerd.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's real test data, {@code testdata/} (see its README.md). */
public final class TestData {
  private TestData() {}

  /** The system property that names the repository root (surefire sets it). */
  public static final String REPO_ROOT_PROPERTY = "layerd.repoRoot";

  /**
   * The repository root: the system property {@code layerd.repoRoot} (surefire sets it), else the
   * first directory up from the working directory that holds {@code testdata/}.
   */
  public static Path root() {
    String prop = System.getProperty(REPO_ROOT_PROPERTY);
    if (prop != null && !prop.isBlank() && Files.isDirectory(Path.of(prop, "testdata"))) {
      return Path.of(prop).toAbsolutePath();
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("testdata"))) {
        return p;
      }
    }
    throw new IllegalStateException(
        "cannot find the repository's testdata/: set -Dlayerd.repoRoot or run inside the"
            + " repository");
  }

  /** A file or directory under testdata/ (e.g. {@code "layers/x"}), which must exist. */
  public static Path file(String relative) {
    Path p = root().resolve("testdata").resolve(relative);
    if (!Files.exists(p)) {
      throw new IllegalStateException("missing test data: " + p);
    }
    return p;
  }
}
