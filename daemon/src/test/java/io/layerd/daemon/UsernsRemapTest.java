package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarReader;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/**
 * dockerd {@code --userns-remap}: Init carries UIDMaps/GIDMaps (lower-case snake keys on the wire),
 * and ApplyDiff must give files the host ids itself.
 */
class UsernsRemapTest {
  @TempDir Path tmp;

  private static final List<Map<String, Object>> REMAP =
      List.of(Map.of("container_id", 0, "host_id", 165536, "size", 65536));

  private static int uid(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
  }

  private static int gid(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
  }

  @RootTest
  void initWithMapsShiftsOwnersIntoTheirOwnDataRoot() throws Exception {
    Path root = tmp.resolve("root");
    try (Daemon d = Daemon.start(Settings.of(root, tmp.resolve("l.sock"), "vfs"));
        PluginClient c = new PluginClient(d.socket())) {
      c.call(
              "GraphDriver.Init",
              "Home",
              "/x/165536.165536/layerd",
              "UIDMaps",
              REMAP,
              "GIDMaps",
              REMAP)
          .ok();
      assertEquals(root.resolve("165536.165536"), d.dataRoot());
      String id = DaemonProtocolTest.newId("remap");
      c.call("GraphDriver.Create", "ID", id).ok();
      byte[] tar =
          TarBuilder.create()
              .dir("home/")
              .dir("home/user/")
              .owner(1000, 1000)
              .file("home/user/f", "x")
              .owner(1000, 50)
              .symlink("home/user/l", "f")
              .owner(1000, 1000)
              .build();
      c.applyDiff(id, null, new ByteArrayInputStream(tar)).ok();
      Path dir = Path.of(c.call("GraphDriver.Get", "ID", id).ok().get("Dir").asText());
      assertEquals(165536, uid(dir), "the layer's root belongs to the remapped root");
      assertEquals(165536, uid(dir.resolve("home")));
      assertEquals(166536, uid(dir.resolve("home/user/f")));
      assertEquals(165586, gid(dir.resolve("home/user/f")));
      assertEquals(166536, uid(dir.resolve("home/user/l")));
      c.call("GraphDriver.Put", "ID", id).ok();

      // docker save / push / commit: Diff states the owners the layer came with, unshifted
      PluginClient.Stream diff = c.diff(id, null);
      assertEquals(200, diff.status());
      Map<String, TarEntry> entries = new HashMap<>();
      TarReader r = new TarReader(new ByteArrayInputStream(diff.body()));
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        entries.put(e.displayName().replaceAll("/$", ""), e);
      }
      assertEquals(0, entries.get("home").uid(), entries.toString());
      assertEquals(1000, entries.get("home/user/f").uid());
      assertEquals(50, entries.get("home/user/f").gid());
      assertEquals(1000, entries.get("home/user/l").uid());
      assertEquals(1000, entries.get("home/user").gid());

      String far = DaemonProtocolTest.newId("far");
      c.call("GraphDriver.Create", "ID", far).ok();
      String err =
          c.applyDiff(
                  far,
                  null,
                  new ByteArrayInputStream(
                      TarBuilder.create().file("data", "x").owner(70000, 0).build()))
              .err();
      assertTrue(err.contains("70000"), err);
      // The failed ApplyDiff rolled back what it applied; the layer stays as Create made it.
      assertTrue(c.call("GraphDriver.Exists", "ID", far).ok().path("Exists").asBoolean());
      Path farDir = Path.of(c.call("GraphDriver.Get", "ID", far).ok().get("Dir").asText());
      assertFalse(Files.exists(farDir.resolve("data"), LinkOption.NOFOLLOW_LINKS));
      c.call("GraphDriver.Put", "ID", far).ok();

      // dockerd restarted without --userns-remap: the unshifted store again
      c.call("GraphDriver.Init", "Home", "/x/layerd").ok();
      assertEquals(root, d.dataRoot());
      assertFalse(c.call("GraphDriver.Exists", "ID", id).ok().path("Exists").asBoolean());
    }
  }
}
