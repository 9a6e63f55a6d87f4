package io.layerd.daemon.containerd;

import io.layerd.testkit.Require;

/** containerd's snapshotter cases on layerd's fuse-overlayfs (mounted through mount.fuse3). */
class SnapshotSuiteFuseOverlayfsTest extends SnapshotSuite {
  @Override
  String driver() {
    return "fuse-overlayfs";
  }

  @Override
  boolean layerIsWholeTree() {
    return false;
  }

  @Override
  void requirements() {
    Require.command("fuse-overlayfs");
    Require.command("mount.fuse3"); // containerd mounts fuse3.fuse-overlayfs through it
    Require.fuse();
  }
}
