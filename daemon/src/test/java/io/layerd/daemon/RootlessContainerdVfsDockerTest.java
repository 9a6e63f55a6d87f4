package io.layerd.daemon;

/** Rootless Docker 28 on containerd 2.1 on layerd's vfs. */
class RootlessContainerdVfsDockerTest extends RootlessContainerdDockerSuite {
  @Override
  String driver() {
    return "vfs";
  }
}
