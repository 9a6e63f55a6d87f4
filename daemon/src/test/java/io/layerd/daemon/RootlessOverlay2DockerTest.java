package io.layerd.daemon;

import io.layerd.testkit.Require;

/** Rootless dockerd on layerd's overlay2: kernel overlay in a user namespace, userxattr. */
class RootlessOverlay2DockerTest extends RootlessDockerSuite {
  @Override
  String driver() {
    return "overlay2";
  }

  @Override
  void prepare() {
    Require.kernelAtLeast(5, 11); // overlay mounts with userxattr in a user namespace
  }
}
