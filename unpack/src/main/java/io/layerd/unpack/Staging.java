package io.layerd.unpack;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

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
    try (Fd p = Sys.openDirectory(parent.toString())) {
      byte[] staging = makeStaging(p.get(), abs.getFileName().toString());
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
        return result;
      } catch (IOException | RuntimeException | Error e) {
        try {
          RootedTree.removeAll(p.get(), staging);
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup); // the failure matters more; the staging name says what it is
        }
        throw e;
      }
    }
  }

  /**
   * Makes {@code .NAME.layerd-staging-XXXXXXXXXXXX} in {@code parentFd}, mode 0700, and returns its
   * name. The suffix only has to be unused (mkdir never follows or reuses what is there; a name
   * taken is tried again), so it comes from a plain random generator: a SecureRandom would load the
   * security providers, a cost every layerctl run would pay.
   */
  static byte[] makeStaging(int parentFd, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      byte[] staging =
          Names.bytes(
              "."
                  + name
                  + ".layerd-staging-"
                  + HexFormat.of()
                      .toHexDigits(ThreadLocalRandom.current().nextLong(1L << 48))
                      .substring(4));
      int r = Sys.tryMkdirat(parentFd, staging, 0700);
      if (r == 0) {
        return staging;
      }
      if (r != -io.layerd.sys.Errno.EEXIST.number() || attempt >= 100) {
        throw Sys.error("mkdirat", -r, parentFd, staging);
      }
    }
  }
}
