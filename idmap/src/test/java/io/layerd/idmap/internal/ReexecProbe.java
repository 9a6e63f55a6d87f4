package io.layerd.idmap.internal;

import io.layerd.idmap.IdMappings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A main class for {@link UserNamespaceTest}: what {@link RootlessNamespace#reexec} re-runs. It
 * writes its uid map, gid map and re-exec marker to the file named by its first argument and exits
 * with status 7, so the test sees that the child's status is passed on.
 */
public final class ReexecProbe {
  private ReexecProbe() {}

  public static void main(String[] args) throws IOException {
    IdMappings m = IdMappings.current();
    Files.writeString(
        Path.of(args[0]),
        m.uids().toProcMap()
            + "--\n"
            + m.gids().toProcMap()
            + "--\n"
            + System.getenv(RootlessNamespace.CHILD_ENV)
            + "\n");
    System.exit(7);
  }
}
