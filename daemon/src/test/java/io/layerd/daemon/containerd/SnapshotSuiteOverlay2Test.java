package io.layerd.daemon.containerd;

/** containerd's snapshotter cases on layerd's overlay2 (kernel overlay). */
class SnapshotSuiteOverlay2Test extends SnapshotSuite {
  @Override
  String driver() {
    return "overlay2";
  }

  @Override
  boolean layerIsWholeTree() {
    return false;
  }
}
