package io.layerd.driver.btrfs;

import io.layerd.testkit.Require;
import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A btrfs filesystem on a loop file, made for one test (as root): {@code truncate}, {@code
 * mkfs.btrfs}, {@code mount -o loop[,user_subvol_rm_allowed]}. Its root may be given to the test
 * user (root of its user namespace). Closing unmounts it and deletes everything, whatever happened.
 */
final class LoopBtrfs implements AutoCloseable {
  /** Big enough for mkfs.btrfs's minimum with DUP metadata; sparse, so cheap. */
  private static final long SIZE = 256L << 20;

  final Path base;
  final Path image;
  final Path mountPoint;
  private boolean mounted;

  private LoopBtrfs(Path base) {
    this.base = base;
    this.image = base.resolve("btrfs.img");
    this.mountPoint = base.resolve("mnt");
  }

  /**
   * Makes and mounts one. {@code owner} (may be null) gets the filesystem's root directory.
   * Requires root, mkfs.btrfs and a loop device.
   */
  static LoopBtrfs create(boolean userSubvolRmAllowed, TestUser owner) throws IOException {
    Require.root();
    Require.command("mkfs.btrfs");
    Require.command("mount");
    Path base = Files.createTempDirectory(Path.of("/tmp"), "layerd-btrfs-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    LoopBtrfs fs = new LoopBtrfs(base);
    try {
      try (RandomAccessFile f = new RandomAccessFile(fs.image.toFile(), "rw")) {
        f.setLength(SIZE);
      }
      run("mkfs.btrfs", "-q", fs.image.toString());
      Files.createDirectory(fs.mountPoint);
      run(
          "mount",
          "-o",
          userSubvolRmAllowed ? "loop,user_subvol_rm_allowed" : "loop",
          fs.image.toString(),
          fs.mountPoint.toString());
      fs.mounted = true;
      if (owner != null) {
        Files.setAttribute(fs.mountPoint, "unix:uid", (int) owner.uid());
        Files.setAttribute(fs.mountPoint, "unix:gid", (int) owner.gid());
      }
      return fs;
    } catch (IOException | RuntimeException | Error e) {
      try {
        fs.close();
      } catch (IOException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
  }

  /** A directory on the filesystem, for a data-root (not created). */
  Path path(String name) {
    return mountPoint.resolve(name);
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    if (mounted) {
      try {
        run("umount", mountPoint.toString());
      } catch (IOException e) {
        first = e;
        try {
          run("umount", "-l", mountPoint.toString());
        } catch (IOException lazy) {
          e.addSuppressed(lazy);
        }
      }
      mounted = false;
    }
    try {
      deleteTree(base);
    } catch (IOException e) {
      if (first == null) {
        first = e;
      } else {
        first.addSuppressed(e);
      }
    }
    if (first != null) {
      throw first;
    }
  }

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

  /** Runs a command (60 s at most); fails with its output when it exits non-zero. */
  static String run(String... cmd) throws IOException {
    List<String> c = new ArrayList<>(List.of(cmd));
    Process p = new ProcessBuilder(c).redirectErrorStream(true).start();
    p.getOutputStream().close();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", c) + " did not finish in 60 s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted: " + String.join(" ", c), e);
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", c) + " -> exit " + p.exitValue() + ": " + out.strip());
    }
    return out;
  }
}
