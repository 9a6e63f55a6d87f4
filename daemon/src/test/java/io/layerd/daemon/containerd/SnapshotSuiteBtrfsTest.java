package io.layerd.daemon.containerd;

import io.layerd.testkit.LoopBtrfs;
import java.io.IOException;

/** containerd's snapshotter cases on layerd's btrfs (subvolumes on a loop-mounted btrfs). */
class SnapshotSuiteBtrfsTest extends SnapshotSuite {
  @Override
  String driver() {
    return "btrfs";
  }

  @Override
  boolean layerIsWholeTree() {
    return true;
  }

  @Override
  LoopBtrfs fileSystem() throws IOException {
    return LoopBtrfs.create(false, null);
  }
}
