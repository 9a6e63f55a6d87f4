package io.layerd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.testkit.DeepTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link Sys#openInRoot} of paths longer than PATH_MAX: in pieces, or walked past a symlink. */
class LongPathInRootTest {
  static final int DEPTH = 3000; // "a/a/...": 5,999 bytes

  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  private long bottomIno() throws IOException {
    try (Fd bottom = DeepTrees.descend(tmp.path(), "a", DEPTH)) {
      return Sys.fstat(bottom.get()).ino();
    }
  }

  private long openedIno(String path) throws IOException {
    try (Fd root = Sys.openDirectory(tmp.path().toString());
        Fd d =
            new Fd(
                Sys.openInRoot(root.get(), Names.bytes(path), Sys.O_PATH | Sys.O_DIRECTORY, 0))) {
      return Sys.fstat(d.get()).ino();
    }
  }

  @Test
  void aPathLongerThanPathMaxOpensTheSameDirectory() throws IOException {
    DeepTrees.chain(tmp.path(), "a", DEPTH, "f", "x");
    long want = bottomIno();
    String path = DeepTrees.path("a", DEPTH);
    assertEquals(want, openedIno(path));
    // Through a symlink (an absolute target resolves in the root), and an absolute path.
    Files.createSymbolicLink(tmp.resolve("ln"), Path.of("/a/a"));
    assertEquals(want, openedIno("ln/" + DeepTrees.path("a", DEPTH - 2)));
    assertEquals(want, openedIno("/" + path));
    Files.delete(tmp.resolve("ln"));
  }
}
