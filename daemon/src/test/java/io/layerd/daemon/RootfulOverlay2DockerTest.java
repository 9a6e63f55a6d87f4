package io.layerd.daemon;

/** Rootful dockerd on layerd's overlay2 (trusted.* whiteouts, native diff). */
class RootfulOverlay2DockerTest extends RootfulDockerSuite {
  @Override
  String driver() {
    return "overlay2";
  }
}
