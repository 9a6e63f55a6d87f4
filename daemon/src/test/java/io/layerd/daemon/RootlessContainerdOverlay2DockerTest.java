package io.layerd.daemon;

/** Rootless Docker 28 on containerd 2.1 on layerd's overlay2 (kernel overlay, userxattr). */
class RootlessContainerdOverlay2DockerTest extends RootlessContainerdDockerSuite {
  @Override
  String driver() {
    return "overlay2";
  }
}
