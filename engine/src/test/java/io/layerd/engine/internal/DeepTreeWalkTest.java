package io.layerd.engine.internal;

import static io.layerd.testkit.DeepTrees.DEPTH;
import static io.layerd.testkit.DeepTrees.WIDE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.engine.DiskUsage;
import io.layerd.engine.spi.Change;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.testkit.DeepTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The engine's walkers on trees deeper and wider than the descriptors of the child JVM that walks
 * them ({@link DeepTrees#DESCRIPTOR_LIMIT}): the naive diff and the disk usage.
 */
class DeepTreeWalkTest {
  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  @Test
  void aDeepTreeIsComparedAndMeasuredWithFewDescriptors() throws IOException {
    Path old = Files.createDirectory(tmp.resolve("old"));
    Path neu = Files.createDirectory(tmp.resolve("new"));
    DeepTrees.chain(old, "a", DEPTH, "f", "x");
    DeepTrees.chain(neu, "a", DEPTH, "f", "xy");
    DeepTrees.wide(neu, "w", WIDE);
    DeepTrees.withFewDescriptors(DeepTreeWalkTest::compare, old.toString(), neu.toString());
  }

  static void compare(String[] args) throws IOException {
    TreeChanges.Result r;
    try (Fd o = Sys.openDirectory(args[0]);
        Fd n = Sys.openDirectory(args[1])) {
      r = TreeChanges.compare(n.get(), o.get());
    }
    List<String> want = new ArrayList<>();
    for (int d = 1; d <= DEPTH; d++) {
      want.add("MODIFIED /" + DeepTrees.path("a", d));
    }
    want.add("MODIFIED /" + DeepTrees.path("a", DEPTH) + "/f");
    for (int i = 0; i < WIDE; i++) {
      want.add("ADDED /w" + i);
    }
    List<String> got = new ArrayList<>();
    for (Change c : r.changes()) {
      got.add(c.toString());
    }
    want.sort(null);
    got.sort(null);
    assertEquals(want, got);
    assertEquals(2, r.size());
    // The root, the chain, its file and the wide directories.
    assertEquals(1 + DEPTH + 1 + WIDE, DiskUsage.of(Path.of(args[1])).inodes());
  }
}
