package io.layerd.sys;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Helper binaries found as a shell finds them. */
public final class Executables {
  private Executables() {}

  /**
   * The first regular, executable file {@code name} on PATH (or the name itself when it holds a
   * slash); PATH unset or empty means the usual system directories.
   */
  public static Optional<Path> which(String name) {
    if (name.contains("/")) {
      Path p = Path.of(name);
      return Files.isRegularFile(p) && Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
    }
    String path = System.getenv("PATH");
    if (path == null || path.isEmpty()) {
      path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    }
    for (String dir : path.split(":")) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, name);
      if (Files.isRegularFile(p) && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }
}
