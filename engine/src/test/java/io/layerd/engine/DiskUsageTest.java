package io.layerd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

/** {@link DiskUsage} says what GNU du says: blocks and inodes, a hardlinked inode once. */
class DiskUsageTest {
  @TempDir Path tmp;

  @EndToEndTest
  void blocksAndInodesAreDus() throws Exception {
    Require.command("du");
    Path d = tmp.resolve("layer");
    Files.createDirectories(d.resolve("a/b/c"));
    Files.write(d.resolve("a/big"), new byte[200_000]);
    Files.writeString(d.resolve("a/b/small"), "x");
    Files.createLink(d.resolve("a/b/c/hard"), d.resolve("a/big"));
    Files.createSymbolicLink(d.resolve("link"), Path.of("a/big"));
    Files.createFile(d.resolve("empty"));

    DiskUsage u = DiskUsage.of(d);
    assertEquals(du(d, "-B1"), u.bytes(), "blocks in bytes, as du -B1");
    assertEquals(du(d, "--inodes"), u.inodes(), "inodes, as du --inodes");
    assertEquals(8, u.inodes(), "4 directories, 3 files (one of them twice), a symlink");
    assertTrue(u.bytes() >= 200_000, "the big file's blocks count: " + u.bytes());
  }

  private static long du(Path dir, String unit) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of("du", "-s", unit, dir.toString())).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), out);
    return Long.parseLong(out.split("\\s+")[0]);
  }
}
