package io.layerd.testkit;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;

/** Scratch directories for tests, their removal, and what /proc says is mounted. */
public final class TestFiles {
  private TestFiles() {}

  /**
   * A new directory under /tmp whose name starts with {@code prefix}, mode 0755 whatever the umask,
   * so that another user (the test user) can reach what is made below it.
   */
  public static Path scratchDirectory(String prefix) throws IOException {
    Path base = Files.createTempDirectory(Path.of("/tmp"), prefix);
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    return base;
  }

  /**
   * Deletes a tree (as root: whatever its modes), never following symlinks; nothing when {@code
   * root} does not exist.
   */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
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

  /** True when /proc/self/mountinfo lists {@code path} as a mount point of this process. */
  public static boolean isMountPoint(Path path) throws IOException {
    String p = path.toAbsolutePath().normalize().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      if (f.length > 4 && f[4].equals(p)) {
        return true;
      }
    }
    return false;
  }
}
