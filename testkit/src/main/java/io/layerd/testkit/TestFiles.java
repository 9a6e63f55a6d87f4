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

  /**
   * Lazily unmounts ({@code umount -l}) every mount point at or below {@code root}, deepest first,
   * as /proc/self/mountinfo lists them (its octal escapes undone). Returns the ones that could not
   * be unmounted, each with umount's message; empty when all went.
   */
  public static java.util.List<String> unmountUnder(Path root) throws IOException {
    String top = root.toAbsolutePath().normalize().toString();
    java.util.List<String> points = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      if (f.length > 4) {
        String point = unescapeMountinfo(f[4]);
        if (point.equals(top) || point.startsWith(top + "/")) {
          points.add(point);
        }
      }
    }
    points.sort(java.util.Comparator.comparingInt(String::length).reversed());
    java.util.List<String> failed = new java.util.ArrayList<>();
    for (String point : points) {
      Process p =
          new ProcessBuilder("umount", "-l", point)
              .redirectErrorStream(true)
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      try {
        String out =
            new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
          p.destroyForcibly();
          failed.add(point + ": " + out.strip());
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while unmounting " + point);
      }
    }
    return failed;
  }

  /** Undoes mountinfo's octal escapes ({@code \040} for a space, and so on). */
  public static String unescapeMountinfo(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\'
          && i + 3 < s.length()
          && s.substring(i + 1, i + 4).chars().allMatch(d -> d >= '0' && d <= '7')) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
