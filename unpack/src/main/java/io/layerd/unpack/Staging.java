package io.layerd.unpack;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Makes a directory appear whole or not at all: when the destination does not exist, the work runs
 * in a sibling staging directory that is renamed into place (RENAME_NOREPLACE) only when the work
 * succeeds, and removed when it fails. When the destination exists, the work runs in it.
 */
public final class Staging {
  private Staging() {}

  /** Work on an open directory. */
  @FunctionalInterface
  public interface Work<T> {
    T run(int rootFd) throws IOException;
  }

  /** Whether {@code dest} will be made by {@link #into} (true) or worked on in place (false). */
  public static boolean staged(Path dest) {
    return !Files.exists(dest, LinkOption.NOFOLLOW_LINKS);
  }

  /** Runs the work on {@code dest}, staged when {@code dest} does not exist yet. */
  public static <T> T into(Path dest, Work<T> work) throws IOException {
    Path abs = dest.toAbsolutePath().normalize();
    if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.isDirectory(abs)) {
        throw new IOException(abs + " exists and is not a directory: choose another destination");
      }
      try (Fd root = Sys.openDirectory(abs.toString())) {
        return work.run(root.get());
      }
    }
    Path parent = abs.getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new IOException(
          "the parent of " + abs + " does not exist: create it first (mkdir -p " + parent + ")");
    }
    byte[] name = Names.bytes(abs.getFileName().toString());
    byte[] rand = new byte[6];
    new SecureRandom().nextBytes(rand);
    byte[] staging =
        Names.bytes("." + abs.getFileName() + ".layerd-staging-" + HexFormat.of().formatHex(rand));
    try (Fd p = Sys.openDirectory(parent.toString())) {
      Sys.mkdirat(p.get(), staging, 0700);
      boolean done = false;
      try {
        T result;
        try (Fd root =
            new Fd(
                Sys.openat(p.get(), staging, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
          if ((Sys.fstat(root.get()).mode() & 07777) == 0700) {
            Sys.fchmod(root.get(), 0755); // unless the layers said otherwise
          }
          result = work.run(root.get());
        }
        Sys.renameat2(p.get(), staging, p.get(), name, Sys.RENAME_NOREPLACE);
        done = true;
        return result;
      } finally {
        if (!done) {
          try {
            RootedTree.removeAll(p.get(), staging);
          } catch (IOException cleanup) {
            // The original failure matters more; the staging name says what it is.
          }
        }
      }
    }
  }
}
