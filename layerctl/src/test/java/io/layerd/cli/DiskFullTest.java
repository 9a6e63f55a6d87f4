package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.Tmpfs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code layerctl unpack} into a DEST on a small tmpfs: running out of space, or out of inodes,
 * ends in one clear message (what ran out, where), leaves no DEST and no staging, and what was on
 * the filesystem before is intact.
 */
class DiskFullTest {
  @RootTest
  void outOfSpaceAndOutOfInodes() throws Exception {
    try (Tmpfs tmpfs = Tmpfs.mount("full", "size=2m,nr_inodes=64,mode=0755")) {
      Path fs = tmpfs.mountPoint();
      Path dir = tmpfs.scratch();
      Path earlier = fs.resolve("earlier");
      Path small = dir.resolve("small.tar");
      Files.write(small, TarBuilder.create().file("a", "kept\n").file("b", 100_000).build());
      Cli.run("--rootless=false", "unpack", small.toString(), earlier.toString()).ok();

      Path big = dir.resolve("big.tar");
      Files.write(big, TarBuilder.create().file("big", 8 << 20).build());
      assertFullEndsClearly(big, fs, "space");

      TarBuilder many = TarBuilder.create();
      for (int i = 0; i < 200; i++) {
        many.file("f" + i, "x");
      }
      Path inodes = dir.resolve("many.tar");
      Files.write(inodes, many.build());
      assertFullEndsClearly(inodes, fs, "inodes");

      assertEquals("kept\n", Files.readString(earlier.resolve("a")), "the earlier unpack");
      assertEquals(100_000, Files.size(earlier.resolve("b")));
    }
  }

  private static void assertFullEndsClearly(Path layer, Path fs, String what) throws Exception {
    Path dest = fs.resolve("dest");
    Cli.Run r = Cli.run("--rootless=false", "unpack", layer.toString(), dest.toString());
    assertTrue(r.code() != 0, "out of " + what + ": layerctl exited 0");
    String msg = r.err();
    assertTrue(
        msg.contains("No space left on device") || msg.contains("ENOSPC"),
        "out of " + what + ": the message says the device is full: " + msg);
    assertTrue(msg.length() < 2000, "one message, not a dump: " + msg);
    System.out.println("out of " + what + ": " + msg.strip());
    assertFalse(Files.exists(dest), "out of " + what + ": DEST is half made");
    try (Stream<Path> s = Files.list(fs)) {
      assertEquals(List.of(fs.resolve("earlier")), s.toList(), "out of " + what + ": staging left");
    }
  }
}
