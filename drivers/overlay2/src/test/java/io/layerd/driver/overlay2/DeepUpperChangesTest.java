package io.layerd.driver.overlay2;

import static io.layerd.testkit.DeepTrees.DEPTH;
import static io.layerd.testkit.DeepTrees.WIDE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.engine.spi.Change;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
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
 * The native diff of an upper directory deeper and wider than the descriptors of the child JVM that
 * reads it ({@link DeepTrees#DESCRIPTOR_LIMIT}), over two lower layers of different depths;
 * hand-made layer directories in the {@code user.overlay.*} form, as in {@link UpperChangesTest}.
 */
class DeepUpperChangesTest {
  @RegisterExtension final DeepTrees.Scratch tmp = new DeepTrees.Scratch();

  @Test
  void aDeepUpperDirectoryIsReadWithFewDescriptors() throws IOException {
    Path upper = Files.createDirectory(tmp.resolve("upper"));
    Path p1 = Files.createDirectory(tmp.resolve("p1"));
    Path p2 = Files.createDirectory(tmp.resolve("p2"));
    // The grandparent has the whole chain, the parent its upper half; the upper changes the
    // bottom file, whites out another, and adds wide directories at the top.
    DeepTrees.chain(p2, "a", DEPTH, "f", "old");
    try (Fd bottom = DeepTrees.descend(p2, "a", DEPTH)) {
      DeepTrees.write(bottom.get(), "g", "gone");
    }
    DeepTrees.chain(p1, "a", DEPTH / 2, "m", "mid");
    DeepTrees.chain(upper, "a", DEPTH, "f", "new!");
    try (Fd bottom = DeepTrees.descend(upper, "a", DEPTH)) {
      Sys.mknodat(bottom.get(), Names.bytes("g"), Sys.S_IFCHR, 0, 0);
    }
    DeepTrees.wide(upper, "w", WIDE);
    DeepTrees.withFewDescriptors(
        DeepUpperChangesTest::read, upper.toString(), p1.toString(), p2.toString());
  }

  static void read(String[] args) throws IOException {
    List<String> got = new ArrayList<>();
    for (Change c :
        UpperChanges.read(
            Path.of(args[0]), List.of(Path.of(args[1]), Path.of(args[2])), "user.overlay.")) {
      got.add(c.toString());
    }
    List<String> want = new ArrayList<>();
    for (int d = 1; d <= DEPTH; d++) {
      want.add("MODIFIED /" + DeepTrees.path("a", d));
    }
    want.add("MODIFIED /" + DeepTrees.path("a", DEPTH) + "/f");
    want.add("DELETED /" + DeepTrees.path("a", DEPTH) + "/g");
    for (int i = 0; i < WIDE; i++) {
      want.add("ADDED /w" + i);
    }
    want.sort(null);
    got.sort(null);
    assertEquals(want, got);
  }
}
