package io.layerd.driver.btrfs;

import io.layerd.engine.EngineUnderTest;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.LoopBtrfs;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.conformance.LayerStoreConformance;
import io.layerd.testkit.conformance.LayerStoreUnderTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The conformance suite through the engine with btrfs. The suite makes its data-roots in the
 * temporary directory, which is not btrfs: each data-root is made a symbolic link to a directory on
 * a loop-mounted btrfs that the test JVM makes (as root, its root given to the test user) before
 * the checks and removes after them. The child JVM of the suite's user-namespace run finds that
 * filesystem through a {@code layerd.*} system property, which {@link ChildJvm} passes on.
 */
abstract class BtrfsConformance extends LayerStoreConformance {
  /** Where the loop btrfs of the running class is mounted (set in the test JVM, passed on). */
  static final String MOUNT_PROPERTY = "layerd.test.btrfsConformanceMount";

  private static LoopBtrfs fs;

  /** Makes the loop btrfs (in the test JVM only; a child JVM uses its parent's). */
  static void mount(boolean userSubvolRmAllowed) throws IOException {
    if (ChildJvm.currentMode() != null) {
      Require.that(
          System.getProperty(MOUNT_PROPERTY) != null, "the parent JVM named no loop btrfs");
      return;
    }
    Require.root();
    fs = LoopBtrfs.create(userSubvolRmAllowed, TestUser.standard());
    System.setProperty(MOUNT_PROPERTY, fs.mountPoint().toString());
  }

  static void unmount() throws IOException {
    System.clearProperty(MOUNT_PROPERTY);
    if (fs != null) {
      LoopBtrfs f = fs;
      fs = null;
      f.close();
    }
  }

  @Override
  protected LayerStoreUnderTest open(Path dataRoot, long idShift) throws IOException {
    if (!Files.exists(dataRoot, LinkOption.NOFOLLOW_LINKS)) {
      Path mount = Path.of(System.getProperty(MOUNT_PROPERTY));
      Path target =
          mount.resolve(dataRoot.getParent().getFileName() + "-" + dataRoot.getFileName());
      Files.createDirectories(target);
      Files.createSymbolicLink(dataRoot, target);
    }
    return EngineUnderTest.open(dataRoot, BtrfsDriver.NAME, idShift);
  }
}
