package io.layerd.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/** The checks on inputs that every command makes, with the same message in each. */
final class Inputs {
  private Inputs() {}

  /**
   * Fails with {@code cannot read WHAT PATH: no such file or directory} (or {@code permission
   * denied}), exit status {@link ExitCode#BAD_INPUT}, unless {@code path} can be read.
   */
  static void requireReadable(String what, Path path) {
    if (!Files.exists(path)) {
      throw new CliException(
          "cannot read " + what + " " + path + ": no such file or directory", ExitCode.BAD_INPUT);
    }
    if (!Files.isReadable(path)) {
      throw new CliException(
          "cannot read " + what + " " + path + ": permission denied", ExitCode.BAD_INPUT);
    }
  }
}
