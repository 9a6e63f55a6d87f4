package io.layerd.daemon;

/** Docker 28 on containerd 2.1 with layerd's fuse-overlayfs. */
class RootfulContainerdFuseOverlayfsDockerTest extends RootfulContainerdDockerSuite {
  @Override
  String driver() {
    return "fuse-overlayfs";
  }
}
