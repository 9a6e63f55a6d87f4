package io.layerd.driver.fuseoverlayfs;

import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the fuse-overlayfs tests share: helper processes, data-root directories. */
final class FuseFixtures {
  private FuseFixtures() {}

  /**
   * A directory under /tmp (0755, root's) holding {@code dr/}, a data-root-to-be owned by the test
   * user (its uid is root in its user namespace); removed with everything in it on close.
   */
  static final class UserDataRoot implements AutoCloseable {
    final Path base;
    final Path dataRoot;

    UserDataRoot(TestUser user) throws IOException {
      base = TestFiles.scratchDirectory("layerd-fuse-");
      dataRoot = base.resolve("dr");
      Files.createDirectory(dataRoot);
      if (user != null) {
        user.own(dataRoot);
      }
    }

    @Override
    public void close() throws IOException {
      TestFiles.deleteTree(base);
    }
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
}
