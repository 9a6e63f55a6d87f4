package io.layerd.daemon;

import io.layerd.testkit.LoopBtrfs;
import java.nio.file.Path;

/** Rootful dockerd on layerd's btrfs, its data-root on a loop-mounted btrfs file. */
class RootfulBtrfsDockerTest extends RootfulDockerSuite {
  private LoopBtrfs btrfs;

  @Override
  String driver() {
    return "btrfs";
  }

  @Override
  Path layerdRoot(Path dir) throws Exception {
    btrfs = LoopBtrfs.create(true, null);
    return btrfs.path("layerd");
  }

  @Override
  void releaseLayerdRoot(Path dir) throws Exception {
    if (btrfs != null) {
      btrfs.close();
    }
  }
}
