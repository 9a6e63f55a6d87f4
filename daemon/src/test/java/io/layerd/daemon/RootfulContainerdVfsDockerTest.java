package io.layerd.daemon;

/** Docker 28 on containerd 2.1 with layerd's vfs. */
class RootfulContainerdVfsDockerTest extends RootfulContainerdDockerSuite {
  @Override
  String driver() {
    return "vfs";
  }
}
