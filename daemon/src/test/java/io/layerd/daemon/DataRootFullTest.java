package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.Tmpfs;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * layerd with its data-root on a small tmpfs: an ApplyDiff that runs out of space or of inodes
 * fails with one clear message, leaves no half-made layer (the layer is gone or empty), no staging,
 * records that agree with the directories, and the layers applied before intact; once space is
 * freed the next ApplyDiff succeeds.
 */
class DataRootFullTest {
  @RootTest
  void outOfSpaceAndOutOfInodes() throws Exception {
    try (Tmpfs fs = Tmpfs.mount("rootfull", "size=3m,nr_inodes=200,mode=0700");
        Daemon d =
            Daemon.start(
                Settings.of(
                    fs.mountPoint().resolve("root"), fs.scratch().resolve("s.sock"), "vfs"));
        PluginClient c = new PluginClient(d.socket())) {
      c.call("GraphDriver.Create", "ID", "earlier").ok();
      byte[] small = TarBuilder.create().file("a", "kept\n").file("b", 100_000).build();
      c.applyDiff("earlier", null, new ByteArrayInputStream(small)).ok();

      byte[] big = TarBuilder.create().file("big", 8 << 20).build();
      full(c, d, "space", big);
      TarBuilder many = TarBuilder.create();
      for (int i = 0; i < 400; i++) {
        many.file("f" + i, "x");
      }
      full(c, d, "inodes", many.build());

      Path earlier = Path.of(c.call("GraphDriver.Get", "ID", "earlier").ok().get("Dir").asText());
      assertEquals("kept\n", Files.readString(earlier.resolve("a")), "the earlier layer");
      assertEquals(100_000, Files.size(earlier.resolve("b")));
      c.call("GraphDriver.Put", "ID", "earlier").ok();

      c.call("GraphDriver.Create", "ID", "next").ok();
      c.applyDiff("next", null, new ByteArrayInputStream(small)).ok();
    }
  }

  private static void full(PluginClient c, Daemon d, String what, byte[] tar) throws Exception {
    String id = "full-" + what;
    c.call("GraphDriver.Create", "ID", id).ok();
    String err = c.applyDiff(id, null, new ByteArrayInputStream(tar)).err();
    System.out.println("data-root out of " + what + ": " + err);
    assertTrue(
        err.contains("No space left on device") || err.contains("ENOSPC"),
        "out of " + what + ": the message says the device is full: " + err);
    assertTrue(err.length() < 2000, "one message: " + err);
    Path root = d.dataRoot();
    if (c.call("GraphDriver.Exists", "ID", id).ok().get("Exists").asBoolean()) {
      try (Stream<Path> s = Files.list(root.resolve("vfs/dir").resolve(id))) {
        assertEquals(List.of(), s.toList(), "out of " + what + ": the layer is half made");
      }
      c.call("GraphDriver.Remove", "ID", id).ok();
    }
    Set<String> records = new TreeSet<>();
    try (Stream<Path> s = Files.list(root.resolve("layers"))) {
      s.forEach(p -> records.add(p.getFileName().toString().replace(".json", "")));
    }
    Set<String> dirs = new TreeSet<>();
    try (Stream<Path> s = Files.list(root.resolve("vfs/dir"))) {
      s.forEach(p -> dirs.add(p.getFileName().toString()));
    }
    assertEquals(records, dirs, "out of " + what + ": records and directories");
    try (Stream<Path> s = Files.list(root.resolve("staging"))) {
      assertEquals(List.of(), s.toList(), "out of " + what + ": staging left");
    }
  }
}
