package io.layerd.daemon.containerd;

/** containerd's snapshotter cases on layerd's vfs (copies). */
class SnapshotSuiteVfsTest extends SnapshotSuite {
  @Override
  String driver() {
    return "vfs";
  }

  @Override
  boolean layerIsWholeTree() {
    return true;
  }
}
