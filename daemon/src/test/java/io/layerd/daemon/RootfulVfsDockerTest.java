package io.layerd.daemon;

/** Rootful dockerd on layerd's vfs. */
class RootfulVfsDockerTest extends RootfulDockerSuite {
  @Override
  String driver() {
    return "vfs";
  }
}
