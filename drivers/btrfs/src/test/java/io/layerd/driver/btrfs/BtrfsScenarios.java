package io.layerd.driver.btrfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DriverFixtures;
import io.layerd.engine.Engine;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Checks that run as root in the test JVM, or in a child JVM as the test user inside a user
 * namespace ({@link io.layerd.testkit.ChildJvm}).
 */
final class BtrfsScenarios {
  private BtrfsScenarios() {}

  static Engine openEngine(Path dataRoot) throws Exception {
    return DriverFixtures.openEngine(dataRoot, new BtrfsProvider());
  }

  /**
   * args: data-root, the removal expected ({@code IOCTL} or {@code RMDIR}). Layers through the
   * engine (a child is a snapshot; whiteouts delete), then removal: of layers through the engine,
   * of a read-only snapshot and of a subvolume holding a symlink out of the data-root directly.
   */
  static void roundTrip(String[] args) throws Exception {
    Path dataRoot = Path.of(args[0]);
    Subvolumes.Removal expected = Subvolumes.Removal.valueOf(args[1]);
    Path outside = dataRoot.resolveSibling("outside-" + ProcessHandle.current().pid());
    Files.createDirectories(outside);
    Files.writeString(outside.resolve("sentinel"), "S");
    try (Engine e = openEngine(dataRoot)) {
      assertEquals("btrfs", e.driver().name());
      e.create("base", null);
      e.applyDiff(
          "base",
          null,
          new ByteArrayInputStream(
              DriverFixtures.baseLayer().symlink("escape", outside.toString()).build()));
      e.create("child", "base");
      e.applyDiff("child", "base", DriverFixtures.childLayer());
      Path view = e.get("child");
      assertEquals(e.driver().diffDirectory("child"), view, "a subvolume needs no mount");
      DriverFixtures.assertChildView(view);
      e.put("child");
      Path base = e.driver().diffDirectory("base");
      assertTrue(Files.exists(base.resolve("gone")), "the parent keeps what its child deleted");
      e.createReadWrite("rw", "child");
      Files.writeString(e.get("rw").resolve("written"), "W");
      e.put("rw");
      assertFalse(Files.exists(view.resolve("written")), "a snapshot is its own copy");

      e.remove("rw");
      e.remove("child");
      e.remove("base");
      assertFalse(e.driver().exists("base"));
      assertEquals("S", Files.readString(outside.resolve("sentinel")), "removal followed nothing");

      // Directly: the removal kind, a read-only snapshot, a symlink out of the tree.
      Path subvolumes = dataRoot.resolve("btrfs").resolve(BtrfsDriver.SUBVOLUMES);
      try (Fd dir = Sys.openDirectory(subvolumes.toString())) {
        Subvolumes.create(dir.get(), "direct");
        Files.createSymbolicLink(subvolumes.resolve("direct/escape"), outside);
        Files.writeString(subvolumes.resolve("direct/file"), "F");
        try (Fd src =
            new Fd(
                Sys.openat(dir.get(), Names.bytes("direct"), Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
          Sys.btrfsSnapshotCreate(src.get(), dir.get(), Names.bytes("readonly"), true);
        }
        try (Fd ro =
            new Fd(
                Sys.openat(
                    dir.get(), Names.bytes("readonly"), Sys.O_RDONLY | Sys.O_DIRECTORY, 0))) {
          assertEquals(
              Sys.BTRFS_SUBVOL_RDONLY,
              Sys.btrfsSubvolumeGetFlags(ro.get()) & Sys.BTRFS_SUBVOL_RDONLY);
        }
        assertEquals(expected, Subvolumes.remove(dir.get(), "readonly"));
        assertEquals(expected, Subvolumes.remove(dir.get(), "direct"));
        assertEquals(Subvolumes.Removal.IOCTL, Subvolumes.remove(dir.get(), "missing"));
      }
      assertFalse(Files.exists(subvolumes.resolve("readonly"), LinkOption.NOFOLLOW_LINKS));
      assertFalse(Files.exists(subvolumes.resolve("direct"), LinkOption.NOFOLLOW_LINKS));
      assertEquals("S", Files.readString(outside.resolve("sentinel")), "removal followed nothing");
    }
  }

  /** args: data-root, words the reasons must hold. The real probe says btrfs is usable. */
  static void probeUsable(String[] args) throws Exception {
    Path dataRoot = Path.of(args[0]);
    Files.createDirectories(dataRoot);
    Probe p = DriverFixtures.probe(new BtrfsProvider(), dataRoot);
    String all = String.join("\n", p.reasons());
    for (int i = 1; i < args.length; i++) {
      assertTrue(all.contains(args[i]), "'" + args[i] + "' in:\n" + all);
    }
    assertFalse(Files.exists(dataRoot.resolve("btrfs")), "the probe leaves no home behind");
  }
}
