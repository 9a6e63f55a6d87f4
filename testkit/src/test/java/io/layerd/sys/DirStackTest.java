package io.layerd.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.DeepTrees;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The bounded walk: descriptors held, directories opened again, a moved directory noticed. */
class DirStackTest {
  static final int DEPTH = 1000;

  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  /** Down a chain and back, two trees in step (the second shorter): each level is the one left. */
  @Test
  void holdsAtMostItsBoundAndComesBackToTheSameDirectories() throws IOException {
    DeepTrees.chain(tmp.path(), "a", DEPTH, "f", "x");
    DeepTrees.chain(Files.createDirectory(tmp.resolve("bt")), "a", 100, "f", "y");
    long[] inos = new long[DEPTH + 1];
    long[] inosB = new long[101];
    byte[] a = Names.bytes("a");
    int flags = Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW;
    try (Fd ra = Sys.openDirectory(tmp.path().toString());
        Fd rb = Sys.openDirectory(tmp.resolve("bt").toString());
        DirStack dirs = new DirStack(new int[] {ra.get(), rb.get()}, null, 8)) {
      for (int d = 1; d <= DEPTH; d++) {
        int fa = Sys.openat(dirs.fd(0), a, flags, 0);
        // The second tree ends at depth 100: below, its slot is absent.
        int fb = d <= 100 ? Sys.openat(dirs.fd(1), a, flags, 0) : -1;
        dirs.push(a, fa, fb);
        inos[d] = Sys.fstat(dirs.fd(0)).ino();
        if (d <= 100) {
          inosB[d] = Sys.fstat(dirs.fd(1)).ino();
        }
        assertTrue(dirs.held() <= 8, "held " + dirs.held() + " at depth " + d);
      }
      assertEquals(DEPTH, dirs.depth());
      for (int d = DEPTH; d > 1; d--) {
        dirs.pop();
        assertEquals(inos[d - 1], Sys.fstat(dirs.fd(0)).ino(), "tree a at depth " + (d - 1));
        if (d - 1 <= 100) {
          // Reopened by name from the root (its child had no such directory) or by '..'.
          assertEquals(inosB[d - 1], Sys.fstat(dirs.fd(1)).ino(), "tree b at depth " + (d - 1));
        } else {
          assertEquals(-1, dirs.fd(1));
        }
        assertTrue(dirs.held() <= 8);
      }
    }
  }

  @Test
  void aDirectoryMovedDuringTheWalkStopsItWithAClearMessage() throws IOException {
    DeepTrees.chain(tmp.path(), "a", 20, "f", "x");
    byte[] a = Names.bytes("a");
    try (Fd root = Sys.openDirectory(tmp.path().toString());
        DirStack dirs = new DirStack(new int[] {root.get()}, null, 4)) {
      for (int d = 1; d <= 20; d++) {
        dirs.push(a, Sys.openat(dirs.fd(0), a, Sys.O_RDONLY | Sys.O_DIRECTORY, 0));
      }
      // a/a/a/a/a (depth 5) moves to the top: depth 5's '..' is no longer depth 4.
      Sys.renameat2(
          root.get(), Names.bytes(DeepTrees.path("a", 5)), root.get(), Names.bytes("moved"), 0);
      IOException e =
          assertThrows(
              IOException.class,
              () -> {
                while (dirs.depth() > 0) {
                  dirs.pop();
                }
              });
      assertTrue(
          e.getMessage().startsWith("the tree changed while it was walked: "), e.getMessage());
      assertEquals(4, dirs.depth(), "it failed on its way up to depth 4");
    }
  }

  /** testkit's manifest walks a tree far deeper than the child's descriptor limit. */
  @Test
  void aManifestOfADeepTreeNeedsFewDescriptors() throws IOException {
    DeepTrees.chain(tmp.path(), "a", DEPTH, "f", "x");
    DeepTrees.withFewDescriptors(DirStackTest::manifest, tmp.path().toString());
  }

  static void manifest(String[] args) throws IOException {
    TreeManifest m = TreeManifest.of(Path.of(args[0]));
    assertEquals(DEPTH + 2, m.entries().size());
    assertTrue(Files.exists(Path.of(args[0], "a")));
  }
}
