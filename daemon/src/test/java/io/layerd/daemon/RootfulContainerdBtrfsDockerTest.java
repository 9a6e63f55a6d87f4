package io.layerd.daemon;

/** Docker 28 on containerd 2.1 with layerd's btrfs. */
class RootfulContainerdBtrfsDockerTest extends RootfulContainerdDockerSuite {
  @Override
  String driver() {
    return "btrfs";
  }
}
