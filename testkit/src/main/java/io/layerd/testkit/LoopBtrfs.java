package io.layerd.testkit;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A btrfs filesystem on a loop file, made for one test (as root): a sparse file, {@code
 * mkfs.btrfs}, {@code mount -o loop[,user_subvol_rm_allowed]}. Its root may be given to the test
 * user (root of its user namespace). Closing unmounts it and deletes everything, whatever happened.
 *
 * <pre>{@code
 * try (LoopBtrfs fs = LoopBtrfs.create(false, TestUser.standard())) {
 *   Path dataRoot = fs.path("dr");
 * }
 * }</pre>
 */
public final class LoopBtrfs implements AutoCloseable {
  /** Big enough for mkfs.btrfs's minimum with DUP metadata; sparse, so cheap. */
  private static final long SIZE = 256L << 20;

  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);

  private final Path base;
  private final Path image;
  private final Path mountPoint;
  private boolean mounted;

  private LoopBtrfs(Path base) {
    this.base = base;
    this.image = base.resolve("btrfs.img");
    this.mountPoint = base.resolve("mnt");
  }

  /**
   * Makes and mounts one, with the mount option {@code user_subvol_rm_allowed} when asked. {@code
   * owner} (may be null) gets the filesystem's root directory. Requires root, mkfs.btrfs and a loop
   * device (a missing one skips the test, or fails it when every tier must run).
   */
  public static LoopBtrfs create(boolean userSubvolRmAllowed, TestUser owner) throws IOException {
    Require.root();
    Require.command("mkfs.btrfs");
    Require.command("mount");
    LoopBtrfs fs = new LoopBtrfs(TestFiles.scratchDirectory("layerd-btrfs-"));
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
        owner.own(fs.mountPoint);
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

  /** Where the filesystem is mounted. */
  public Path mountPoint() {
    return mountPoint;
  }

  /** A directory on the filesystem, e.g. for a data-root (not created). */
  public Path path(String name) {
    return mountPoint.resolve(name);
  }

  /** Unmounts (lazily when it is busy) and deletes the loop file and its directory. */
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
      TestFiles.deleteTree(base);
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

  /** Runs a command (60 s at most); fails with its output when it does not exit 0. */
  private static void run(String... command) throws IOException {
    List<String> c = List.of(command);
    Exec.Outcome o = Exec.run(c, COMMAND_TIMEOUT);
    if (!o.ok()) {
      throw new IOException(o.describe(c));
    }
  }
}
