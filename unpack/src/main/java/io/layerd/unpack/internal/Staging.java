package io.layerd.unpack.internal;

import io.layerd.sys.DirEntry;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.regex.Pattern;

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
    return into(dest, work, note -> {});
  }

  /**
   * Runs the work on {@code dest}, staged when {@code dest} does not exist yet. Staging directories
   * of {@code dest} that an interrupted run left (its process died: nothing holds their lock) are
   * removed first, each one told to {@code notes}.
   */
  public static <T> T into(Path dest, Work<T> work, Consumer<String> notes) throws IOException {
    Path abs = dest.toAbsolutePath().normalize();
    if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
      if (!Files.isDirectory(abs)) {
        throw new IOException(abs + " exists and is not a directory: choose another destination");
      }
      if (!Files.isWritable(abs)) {
        throw new java.nio.file.AccessDeniedException(
            abs.toString(),
            null,
            "not writable by uid "
                + Sys.geteuid()
                + ": give this user write permission on it, or choose another destination");
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
      removeStale(p.get(), abs.getFileName().toString(), notes);
      byte[] staging = null;
      try {
        T result;
        try (Locked root = makeStaging(p.get(), abs.getFileName().toString())) {
          staging = root.name;
          if ((Sys.fstat(root.get()).mode() & 07777) == 0700) {
            Sys.fchmod(root.get(), 0755); // unless the layers said otherwise
          }
          result = work.run(root.get());
          // Renamed while the lock is held: a concurrent run never takes it for a stale one.
          Sys.renameat2(p.get(), staging, p.get(), name, Sys.RENAME_NOREPLACE);
        }
        return result;
      } catch (IOException | RuntimeException | Error e) {
        if (staging != null) {
          try {
            Trees.removeAll(p.get(), staging);
          } catch (IOException | RuntimeException cleanup) {
            e.addSuppressed(cleanup); // the failure matters more; the staging name says what it is
          }
        }
        throw e;
      }
    }
  }

  /** The prefix of {@code name}'s staging directories; a random suffix of 12 hex digits follows. */
  private static String stagingPrefix(String name) {
    return "." + name + ".layerd-staging-";
  }

  private static final Pattern SUFFIX = Pattern.compile("[0-9a-f]{12}");

  /**
   * Removes the staging directories of {@code name} in {@code parentFd} that no live run holds:
   * each run holds an exclusive flock on its staging directory until it renames or removes it, and
   * the kernel releases it when the process dies (kill -9 included), so a lock taken here means the
   * run is over.
   */
  static void removeStale(int parentFd, String name, Consumer<String> notes) throws IOException {
    String prefix = stagingPrefix(name);
    for (DirEntry e : Sys.readDirectory(parentFd)) {
      String n = e.displayName();
      if (!n.startsWith(prefix) || !SUFFIX.matcher(n.substring(prefix.length())).matches()) {
        continue;
      }
      int fd;
      try {
        fd = Sys.openat(parentFd, e.name(), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
      } catch (IOException gone) {
        continue; // removed meanwhile, or not a directory: not ours
      }
      try (Fd d = new Fd(fd)) {
        if (!Sys.tryFlockExclusive(d.get())) {
          continue; // a live run's
        }
        try {
          Trees.removeAll(parentFd, e.name());
          notes.accept("removed " + n + ", the staging directory of an interrupted run");
        } catch (IOException failed) {
          notes.accept(
              "could not remove " + n + ", the staging directory of an interrupted run: " + failed);
        }
      }
    }
  }

  /** An open, locked staging directory and its name in the parent. */
  static final class Locked implements AutoCloseable {
    final Fd fd;
    final byte[] name;

    Locked(int fd, byte[] name) {
      this.fd = new Fd(fd);
      this.name = name;
    }

    int get() {
      return fd.get();
    }

    @Override
    public void close() throws IOException {
      fd.close();
    }
  }

  /**
   * Makes {@code .NAME.layerd-staging-XXXXXXXXXXXX} in {@code parentFd}, mode 0700, opens it and
   * takes its lock (see {@link #removeStale}). The suffix only has to be unused (mkdir never
   * follows or reuses what is there; a name taken is tried again), so it comes from a plain random
   * generator: a SecureRandom would load the security providers, a cost every layerctl run would
   * pay. A directory a concurrent run removed as stale between its mkdir and the lock (it is then
   * unlinked) is made again under a new name.
   */
  static Locked makeStaging(int parentFd, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      byte[] staging =
          Names.bytes(
              stagingPrefix(name)
                  + HexFormat.of()
                      .toHexDigits(ThreadLocalRandom.current().nextLong(1L << 48))
                      .substring(4));
      int r = Sys.tryMkdirat(parentFd, staging, 0700);
      if (r == 0) {
        int fd;
        try {
          fd = Sys.openat(parentFd, staging, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        } catch (java.nio.file.NoSuchFileException removed) {
          continue;
        }
        Locked l = new Locked(fd, staging);
        try {
          Sys.flockExclusive(fd);
          if (Sys.fstat(fd).nlink() > 0) {
            return l;
          }
        } catch (IOException | RuntimeException e) {
          l.close();
          throw e;
        }
        l.close();
        continue;
      }
      io.layerd.sys.Errno errno = io.layerd.sys.Errno.of(-r);
      if (errno == io.layerd.sys.Errno.EACCES
          || errno == io.layerd.sys.Errno.EPERM
          || errno == io.layerd.sys.Errno.EROFS) {
        String parent = Sys.where(parentFd, null);
        throw new java.nio.file.AccessDeniedException(
            parent + "/" + name,
            null,
            "cannot be made: uid "
                + Sys.geteuid()
                + " may not write in "
                + parent
                + " (mkdirat: "
                + errno.name()
                + "); choose a destination in a directory this user can write, or give it write"
                + " permission there");
      }
      if (r != -io.layerd.sys.Errno.EEXIST.number() || attempt >= 100) {
        throw Sys.error("mkdirat", -r, parentFd, staging);
      }
    }
  }
}
