package io.layerd.daemon;

import io.layerd.testkit.Require;

/** Rootful dockerd on layerd's fuse-overlayfs. */
class RootfulFuseOverlayfsDockerTest extends RootfulDockerSuite {
  @Override
  String driver() {
    return "fuse-overlayfs";
  }

  @Override
  void requireDriver() {
    Require.command("fuse-overlayfs");
    Require.fuse();
  }
}
