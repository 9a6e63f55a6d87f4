package io.layerd.driver.fuseoverlayfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DriverFixtures;
import io.layerd.engine.Engine;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Mounter;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.TestFiles;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Checks that run as root in the test JVM, or in a child JVM as the test user inside a user
 * namespace ({@link io.layerd.testkit.ChildJvm}): each is a static method taking its arguments as
 * strings.
 */
final class FuseOverlayfsScenarios {
  private FuseOverlayfsScenarios() {}

  static Engine openEngine(Path dataRoot) throws Exception {
    return DriverFixtures.openEngine(dataRoot, new FuseOverlayfsProvider());
  }

  /**
   * args: data-root, the opaque xattr the engine must write. Applies a layer whose child deletes a
   * file and makes a directory opaque; checks the diff directory's form and the mounted view; kills
   * the helper of a mounted read-write layer and checks that the next get mounts it again; checks
   * that the last put unmounts it and ends the helper.
   */
  static void engineRoundTrip(String[] args) throws Exception {
    Path dataRoot = Path.of(args[0]);
    String opaque = args[1];
    try (Engine e = openEngine(dataRoot)) {
      assertEquals("fuse-overlayfs", e.driver().name());
      e.create("base", null);
      e.applyDiff("base", null, new ByteArrayInputStream(DriverFixtures.baseLayer().build()));
      e.create("child", "base");
      e.applyDiff("child", "base", DriverFixtures.childLayer());

      // The form in the diff directory: what fuse-overlayfs honours.
      Path diff = e.driver().diffDirectory("child");
      Stat gone = Sys.lstat(diff.resolve("gone").toString());
      assertTrue(gone.isWhiteoutDevice(), "a deleted file is a 0/0 character device: " + gone);
      assertArrayEquals(
          "y".getBytes(StandardCharsets.US_ASCII),
          Sys.lgetxattr(Names.bytes(diff.resolve("d").toString()), opaque),
          "an opaque directory carries " + opaque);

      // The mounted view obeys it.
      Path view = e.get("child");
      assertFalse(Mounter.isStale(view));
      DriverFixtures.assertChildView(view);
      e.put("child");
      assertFalse(TestFiles.isMountPoint(view), "the last put unmounts");

      // A read-write layer whose helper dies is mounted again on the next get.
      e.createReadWrite("rw", "child");
      Path rw = e.get("rw");
      Files.writeString(rw.resolve("written"), "W");
      Files.delete(rw.resolve("keep"));
      FuseFixtures.killHelper(rw);
      assertTrue(Mounter.isStale(rw), "a dead helper's mount answers ENOTCONN");
      Path again = e.get("rw");
      assertEquals(rw, again);
      assertEquals(2, e.references("rw"));
      assertEquals("W", Files.readString(again.resolve("written")));
      assertFalse(Files.exists(again.resolve("keep"), LinkOption.NOFOLLOW_LINKS));
      assertTrue(
          Sys.lstat(e.driver().diffDirectory("rw").resolve("keep").toString()).isWhiteoutDevice(),
          "fuse-overlayfs records its own deletions as 0/0 character devices");
      e.put("rw");
      assertTrue(TestFiles.isMountPoint(rw), "one get is still outstanding");
      e.put("rw");
      assertFalse(TestFiles.isMountPoint(rw), "the last put unmounts (fusermount3 -u)");
      assertTrue(FuseFixtures.helperEnds(rw, 10), "and the helper ends");

      e.remove("rw");
      e.remove("child");
      e.remove("base");
      assertFalse(e.driver().exists("base"));
    }
  }

  /** args: data-root, a word the reasons must hold. The real probe says the driver is usable. */
  static void probeUsable(String[] args) throws Exception {
    Path dataRoot = Path.of(args[0]);
    Files.createDirectories(dataRoot);
    Probe p = DriverFixtures.probe(new FuseOverlayfsProvider(), dataRoot);
    String all = String.join("\n", p.reasons());
    assertTrue(all.contains(args[1]), all);
    assertTrue(all.contains("a test mount in"), all);
    assertFalse(
        Files.exists(dataRoot.resolve("fuse-overlayfs")), "the probe leaves no home behind");
  }

  /** args: data-root. /dev/fuse is closed to this user: the probe names it and its mode. */
  static void deviceRefused(String[] args) throws Exception {
    Path dataRoot = Path.of(args[0]);
    DriverRefusal r =
        assertThrows(
            DriverRefusal.class, () -> DriverFixtures.probe(new FuseOverlayfsProvider(), dataRoot));
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("/dev/fuse cannot be opened read-write"), r.reason());
    assertTrue(r.reason().contains("mode 0600"), r.reason());
    assertNotNull(r.getMessage());
  }
}
