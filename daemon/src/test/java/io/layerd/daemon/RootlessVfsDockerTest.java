package io.layerd.daemon;

/** Rootless dockerd on layerd's vfs. */
class RootlessVfsDockerTest extends RootlessDockerSuite {
  @Override
  String driver() {
    return "vfs";
  }
}
