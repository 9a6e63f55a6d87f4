package io.layerd.driver.vfs;

import static io.layerd.testkit.DeepTrees.DEPTH;
import static io.layerd.testkit.DeepTrees.WIDE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.testkit.DeepTrees;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The copier on a tree deeper and wider than the descriptors of the child JVM that copies it
 * ({@link DeepTrees#DESCRIPTOR_LIMIT}).
 */
class DeepTreeCopyTest {
  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  @Test
  void aDeepAndWideTreeIsCopiedWithFewDescriptors() throws IOException {
    Path src = Files.createDirectory(tmp.resolve("src"));
    DeepTrees.chain(src, "a", DEPTH, "f", "deep");
    DeepTrees.wide(src, "w", WIDE);
    Path dst = Files.createDirectory(tmp.resolve("dst"));
    DeepTrees.withFewDescriptors(DeepTreeCopyTest::copy, src.toString(), dst.toString());
  }

  static void copy(String[] args) throws IOException {
    TreeCopier.Result r;
    try (TreeCopier copier = new TreeCopier(2, false);
        Fd s = Sys.openDirectory(args[0]);
        Fd d = Sys.openDirectory(args[1])) {
      r = copier.copy(s.get(), d.get());
    }
    assertEquals(DEPTH + WIDE, r.directories());
    assertEquals(1, r.files());
    TreeManifest.assertSame(TreeManifest.of(Path.of(args[0])), TreeManifest.of(Path.of(args[1])));
  }
}
