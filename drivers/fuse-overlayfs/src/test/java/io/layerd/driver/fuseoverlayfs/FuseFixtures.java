package io.layerd.driver.fuseoverlayfs;

import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** What the fuse-overlayfs tests share: the FUSE device's mode, helper processes, directories. */
final class FuseFixtures {
  private FuseFixtures() {}

  static final Path DEV_FUSE = Path.of("/dev/fuse");

  /**
   * Sets /dev/fuse's mode for a test (0666 lets a plain user, and root of its user namespace, open
   * it) and puts the old mode back on close. Needs root.
   */
  static final class DevFuseMode implements AutoCloseable {
    private final Set<PosixFilePermission> old;

    private DevFuseMode(String mode) throws IOException {
      old = Files.getPosixFilePermissions(DEV_FUSE);
      Files.setPosixFilePermissions(DEV_FUSE, PosixFilePermissions.fromString(mode));
    }

    /** {@code mode} as {@code ls -l} shows it, e.g. "rw-rw-rw-". */
    static DevFuseMode set(String mode) throws IOException {
      return new DevFuseMode(mode);
    }

    @Override
    public void close() throws IOException {
      Files.setPosixFilePermissions(DEV_FUSE, old);
    }
  }

  /**
   * A directory under /tmp (0755, root's) holding {@code dr/}, a data-root-to-be owned by the test
   * user (its uid is root in its user namespace); removed with everything in it on close.
   */
  static final class UserDataRoot implements AutoCloseable {
    final Path base;
    final Path dataRoot;

    UserDataRoot(TestUser user) throws IOException {
      base = Files.createTempDirectory(Path.of("/tmp"), "layerd-fuse-");
      Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
      dataRoot = base.resolve("dr");
      Files.createDirectory(dataRoot);
      if (user != null) {
        Files.setAttribute(dataRoot, "unix:uid", (int) user.uid());
        Files.setAttribute(dataRoot, "unix:gid", (int) user.gid());
      }
    }

    @Override
    public void close() throws IOException {
      deleteTree(base);
    }
  }

  /** Deletes a tree as root (modes do not matter), never following symlinks. */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree(
        root,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
            if (exc != null) {
              throw exc;
            }
            Files.delete(dir);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  /** The pid of the fuse-overlayfs process serving {@code target} (its last argument), or -1. */
  static long helperPid(Path target) throws IOException {
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        byte[] raw;
        try {
          raw = Files.readAllBytes(p.resolve("cmdline"));
        } catch (IOException gone) {
          continue;
        }
        List<String> args = Arrays.asList(new String(raw, StandardCharsets.UTF_8).split("\0"));
        if (!args.isEmpty()
            && args.get(0).endsWith("fuse-overlayfs")
            && args.get(args.size() - 1).equals(target.toString())) {
          return Long.parseLong(name);
        }
      }
    }
    return -1;
  }

  /** Waits up to {@code seconds} for no helper to serve {@code target}; true when none does. */
  static boolean helperEnds(Path target, int seconds) throws Exception {
    long deadline = System.nanoTime() + seconds * 1_000_000_000L;
    while (helperPid(target) >= 0) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(50);
    }
    return true;
  }

  /** Kills the helper serving {@code target} (by its pid) and waits for it to be gone. */
  static void killHelper(Path target) throws Exception {
    long pid = helperPid(target);
    if (pid < 0) {
      throw new AssertionError("no fuse-overlayfs process serves " + target);
    }
    ProcessHandle h = ProcessHandle.of(pid).orElseThrow();
    h.destroyForcibly();
    h.onExit().get(10, TimeUnit.SECONDS);
  }

  /** True when /proc/self/mountinfo lists {@code target} as a mount point. */
  static boolean mounted(Path target) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      if (f.length > 4 && f[4].equals(target.toString())) {
        return true;
      }
    }
    return false;
  }
}
