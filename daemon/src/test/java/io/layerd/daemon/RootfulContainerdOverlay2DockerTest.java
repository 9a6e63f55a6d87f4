package io.layerd.daemon;

/** Docker 28 on containerd 2.1 with layerd's overlay2. */
class RootfulContainerdOverlay2DockerTest extends RootfulContainerdDockerSuite {
  @Override
  String driver() {
    return "overlay2";
  }
}
