package io.layerd.testkit;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Trees deeper or wider than a process's descriptors, made and removed through descriptors
 * (java.nio cannot reach a path longer than PATH_MAX), and child JVMs that must walk them with few
 * descriptors: a walker that holds one descriptor per level or per entry fails there with EMFILE.
 */
public final class DeepTrees {
  private DeepTrees() {}

  /** The descriptor limit of {@link #withFewDescriptors}: far below the trees' depth and width. */
  public static final int DESCRIPTOR_LIMIT = 256;

  /** How deep the walkers' trees go: four times {@link #DESCRIPTOR_LIMIT}. */
  public static final int DEPTH = 4 * DESCRIPTOR_LIMIT;

  /** How many directories the walkers' trees hold in one directory (with {@link #wide}). */
  public static final int WIDE = 2000;

  /**
   * Runs {@code scenario(args)} in a child JVM of this user whose RLIMIT_NOFILE is {@link
   * #DESCRIPTOR_LIMIT}, and asserts that it succeeded.
   */
  public static void withFewDescriptors(Scenario scenario, String... args) {
    ChildJvm.launcher(null, ChildJvm.Mode.ROOT)
        .descriptorLimit(DESCRIPTOR_LIMIT)
        .timeout(Duration.ofMinutes(2))
        .call(scenario, args)
        .assertSuccess();
  }

  /**
   * Makes {@code depth} directories {@code name/name/...} below {@code dir} (mode 0755), and in the
   * deepest a file {@code leaf} holding {@code content} (mode 0644).
   */
  public static void chain(Path dir, String name, int depth, String leaf, String content)
      throws IOException {
    byte[] n = Names.bytes(name);
    int cur = Sys.openDirectory(dir.toString()).release();
    try {
      for (int i = 0; i < depth; i++) {
        Sys.mkdirat(cur, n, 0755);
        Sys.fchmodat(cur, n, 0755, 0);
        int next = Sys.openat(cur, n, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        Sys.closeQuietly(cur);
        cur = next;
      }
      write(cur, leaf, content);
    } finally {
      Sys.closeQuietly(cur);
    }
  }

  /**
   * Writes a new file {@code name} (mode 0644) holding {@code content} in the directory open as
   * dirFd.
   */
  public static void write(int dirFd, String name, String content) throws IOException {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    try (Fd f =
        new Fd(
            Sys.openat(
                dirFd,
                Names.bytes(name),
                Sys.O_WRONLY | Sys.O_CREAT | Sys.O_EXCL | Sys.O_NOFOLLOW,
                0644))) {
      ByteBuffer b = ByteBuffer.allocateDirect(Math.max(1, bytes.length));
      b.put(bytes).flip();
      Sys.writeFully(f.get(), b);
      Sys.fchmod(f.get(), 0644);
    }
  }

  /**
   * The directory {@code name/name/...} ({@code depth} components) below {@code dir}, opened
   * O_RDONLY one component at a time; the caller closes it.
   */
  public static Fd descend(Path dir, String name, int depth) throws IOException {
    byte[] n = Names.bytes(name);
    int cur = Sys.openDirectory(dir.toString()).release();
    try {
      for (int i = 0; i < depth; i++) {
        int next = Sys.openat(cur, n, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0);
        Sys.closeQuietly(cur);
        cur = next;
      }
      Fd out = new Fd(cur);
      cur = -1;
      return out;
    } finally {
      Sys.closeQuietly(cur);
    }
  }

  /** The path of {@code depth} components {@code name} joined by '/'. */
  public static String path(String name, int depth) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      b.append(i == 0 ? "" : "/").append(name);
    }
    return b.toString();
  }

  /**
   * A scratch directory per test, on tmpfs ({@code /dev/shm}) where there is one: making and
   * removing tens of thousands of directories on a disk costs seconds of the disk's time, not the
   * code's. Removed after each test, however deep its tree ({@code @TempDir} cannot: java.nio stops
   * at PATH_MAX). Use as {@code @RegisterExtension final DeepTrees.Scratch tmp = new
   * DeepTrees.Scratch();}.
   */
  public static final class Scratch implements BeforeEachCallback, AfterEachCallback {
    private Path dir;

    /** This test's scratch directory. */
    public Path path() {
      if (dir == null) {
        throw new IllegalStateException("the scratch directory exists during a test only");
      }
      return dir;
    }

    /** {@code path().resolve(other)}. */
    public Path resolve(String other) {
      return path().resolve(other);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
      Path shm = Path.of("/dev/shm");
      Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of("/tmp");
      dir = Files.createTempDirectory(base, "layerd-deep-");
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
      if (dir != null) {
        remove(dir.getParent(), dir.getFileName().toString());
        dir = null;
      }
    }
  }

  /**
   * Makes {@code count} empty directories {@code prefix0, prefix1, ...} (mode 0755) in {@code dir}.
   */
  public static void wide(Path dir, String prefix, int count) throws IOException {
    try (Fd d = Sys.openDirectory(dir.toString())) {
      for (int i = 0; i < count; i++) {
        Sys.mkdirat(d.get(), Names.bytes(prefix + i), 0755);
        Sys.fchmodat(d.get(), Names.bytes(prefix + i), 0755, 0);
      }
    }
  }

  /** Removes {@code name} in {@code dir} and everything below it, however deep. */
  public static void remove(Path dir, String name) throws IOException {
    try (Fd d = Sys.openDirectory(dir.toString())) {
      Trees.removeAll(d.get(), Names.bytes(name));
    }
  }
}
