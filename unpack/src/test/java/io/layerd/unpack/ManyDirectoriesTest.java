package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.testkit.DeepTrees;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.TreeManifest.Entry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Layers with more directories, or deeper ones, than the descriptors of the child JVM that applies
 * them ({@link DeepTrees#DESCRIPTOR_LIMIT}): every path spelled in full in the archive (no
 * symlinks, unlike {@link DeepTreeTest}), applied and compared whole with {@link TreeManifest}.
 */
class ManyDirectoriesTest {
  static final int DEEP = 5000;
  static final int MANY = 50_000;

  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  private void applyInChild(String shape) {
    DeepTrees.withFewDescriptors(ManyDirectoriesTest::apply, tmp.path().toString(), shape);
  }

  @Test
  void aLayerFiveThousandDirectoriesDeep() {
    applyInChild("deep");
  }

  @Test
  void fiftyThousandDirectoriesInOneDirectory() {
    applyInChild("flat");
  }

  @Test
  void fiftyThousandDirectoriesInABalancedTree() {
    applyInChild("balanced");
  }

  /** The directories of a shape, parents first, as the archive lists them. */
  static List<String> directories(String shape) {
    List<String> dirs = new ArrayList<>();
    switch (shape) {
      case "deep":
        for (int d = 1; d <= DEEP; d++) {
          dirs.add(DeepTrees.path("d", d));
        }
        break;
      case "flat":
        for (int i = 0; i < MANY; i++) {
          dirs.add("top/" + i);
        }
        break;
      case "balanced":
        // 36 + 36^2 + 36^3 = 47,988 directories, three levels.
        for (int a = 0; a < 36; a++) {
          dirs.add("b" + a);
          for (int b = 0; b < 36; b++) {
            dirs.add("b" + a + "/" + b);
            for (int c = 0; c < 36; c++) {
              dirs.add("b" + a + "/" + b + "/" + c);
            }
          }
        }
        break;
      default:
        throw new IllegalArgumentException(shape);
    }
    return dirs;
  }

  /** In the child: applies the shape's layer, then compares the tree with what it lists. */
  static void apply(String[] args) throws IOException {
    String shape = args[1];
    Path root = Files.createDirectory(Path.of(args[0], "root"));
    List<String> dirs = directories(shape);
    TarBuilder t = TarBuilder.create();
    List<Entry> want = new ArrayList<>();
    for (String d : dirs) {
      t.dir(d + "/");
      want.add(Layers.dir(d));
    }
    String last = dirs.get(dirs.size() - 1) + "/f";
    t.file(last, "at the bottom");
    want.add(Layers.file(last, "at the bottom"));
    if (shape.equals("flat")) {
      want.add(Layers.dir("top")); // implied by its first entry
    }
    ApplyResult r = Layers.apply(root, t);
    assertEquals(dirs.size(), r.counts().directories());
    Layers.assertTree(root, want.toArray(new Entry[0]));
  }

  /**
   * A hardlink to a file 1,000 directories deep in a lower layer (overlay form): the file is copied
   * up with its parents and its other name, found by walking the lower layer.
   */
  @Test
  void aCopyUpFromDeepInALowerLayer() throws IOException {
    Path lower = Files.createDirectory(tmp.resolve("lower"));
    DeepTrees.chain(lower, "a", 1000, "f", "deep");
    try (Fd top = Sys.openDirectory(lower.toString());
        Fd bottom = DeepTrees.descend(lower, "a", 1000)) {
      Sys.linkat(bottom.get(), Names.bytes("f"), top.get(), Names.bytes("h"), 0);
    }
    DeepTrees.withFewDescriptors(ManyDirectoriesTest::copyUp, tmp.path().toString());
  }

  static void copyUp(String[] args) throws IOException {
    Path root = Files.createDirectory(Path.of(args[0], "root"));
    String deep = DeepTrees.path("a", 1000) + "/f";
    LayerApplier a =
        LayerApplier.builder()
            .whiteouts(WhiteoutMode.OVERLAY)
            .lowers(List.of(Path.of(args[0], "lower")))
            .build();
    Layers.apply(a, root, TarBuilder.create().hardlink("x", deep));
    TreeManifest m = TreeManifest.of(root, Layers.SHAPE);
    assertEquals(1 + 1000 + 3, m.entries().size(), "the root, the parents, f, h and x");
    for (String name : new String[] {"x", "h", deep}) {
      assertEquals(deep, m.get(name).orElseThrow().hardlink(), name + " is f's group");
    }
  }

  /**
   * An opaque marker over a directory this layer made 1,000 deep: what the lower layers had there
   * goes, everything of the layer stays.
   */
  @Test
  void anOpaqueDirectoryOverADeepTreeOfItsOwnLayer() {
    DeepTrees.withFewDescriptors(ManyDirectoriesTest::opaque, tmp.path().toString());
  }

  static void opaque(String[] args) throws IOException {
    Path root = Files.createDirectory(Path.of(args[0], "root"));
    TarBuilder lower = TarBuilder.create().file("a/old", "o").file("a/a/a/old", "o");
    TarBuilder upper = TarBuilder.create();
    List<Entry> want = new ArrayList<>();
    for (int d = 1; d <= 1000; d++) {
      upper.dir(DeepTrees.path("a", d) + "/");
      want.add(Layers.dir(DeepTrees.path("a", d)));
    }
    String bottom = DeepTrees.path("a", 1000) + "/f";
    upper.file(bottom, "b").opaque("a");
    want.add(Layers.file(bottom, "b"));
    Layers.apply(root, lower, upper);
    Layers.assertTree(root, want.toArray(new Entry[0]));
    assertFalse(Files.exists(root.resolve("a/old")));
    assertTrue(Files.isDirectory(root.resolve("a/a/a")));
  }
}
