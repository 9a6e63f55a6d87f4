package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.testkit.DeepTrees;
import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, item 3: a legal layer whose tree is thousands of directories deep (through symlinks,
 * every path under PATH_MAX) held one descriptor per level and exhausted the process's. Applied,
 * walked and removed here in a child JVM whose descriptor limit (256) is far below the depth.
 */
class DeepTreeTest {
  @TempDir Path tmp;

  /** Components per path: 2 bytes each, a path of 3,000 bytes. */
  static final int PER_PATH = 1500;

  /** Paths chained through symlinks: 4 x 1,500 = 6,000 directories deep. */
  static final int CHAIN = 4;

  static String run(String c) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < PER_PATH; i++) {
      b.append(i == 0 ? "" : "/").append(c);
    }
    return b.toString();
  }

  /**
   * The layer: {@code l0/a/.../a/f} with its parents implied (the walk makes them), then for each
   * next level a symlink {@code lK -> l(K-1)/a/.../a} and a file under it whose parents the walk
   * makes through the symlink.
   */
  static byte[] deepLayer() {
    TarBuilder t = TarBuilder.create();
    t.file("l0/" + run("a") + "/f", "0");
    for (int k = 1; k < CHAIN; k++) {
      t.symlink("l" + k, "/l" + (k - 1) + "/" + run("a"));
      t.file("l" + k + "/" + run("a") + "/f", Integer.toString(k));
    }
    return t.build();
  }

  @Test
  void aDeepTreeHoldsABoundedNumberOfDescriptors() {
    DeepTrees.withFewDescriptors(DeepTreeTest::applyWalkAndRemove, tmp.toString());
  }

  /** In the child (at most 256 descriptors): apply, resolve by walk and remove the deep tree. */
  static void applyWalkAndRemove(String[] args) throws IOException {
    Path root = Files.createDirectories(Path.of(args[0], "root"));
    LayerApplier.builder()
        .build()
        .apply("deep", new ByteArrayInputStream(deepLayer()), root, LayerApplier.Expect.NOTHING);
    String last = "l" + (CHAIN - 1) + "/" + run("a") + "/f";
    try (Fd r = Sys.openDirectory(root.toString());
        Fd f = new Fd(Sys.openInRootByWalk(r.get(), Names.bytes(last), Sys.O_RDONLY, 0))) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(8);
      int n = Sys.read(f.get(), b);
      byte[] got = new byte[n];
      b.flip().get(got);
      assertEquals(Integer.toString(CHAIN - 1), new String(got, StandardCharsets.UTF_8));
      RootedTree.removeAll(r.get(), Names.bytes("l0"));
    }
    assertFalse(Files.exists(root.resolve("l0")));
  }
}
