package io.layerd.daemon;

import io.layerd.testkit.DevFuse;
import io.layerd.testkit.Require;

/**
 * Rootless dockerd on layerd's fuse-overlayfs. /dev/fuse is mode 0600 on this kind of machine:
 * opened to the user for the suite, put back afterwards.
 */
class RootlessFuseOverlayfsDockerTest extends RootlessDockerSuite {
  private DevFuse fuse;

  @Override
  String driver() {
    return "fuse-overlayfs";
  }

  @Override
  void prepare() throws Exception {
    Require.fuse();
    Require.command("fuse-overlayfs");
    Require.command("fusermount3");
    fuse = DevFuse.openToUsers();
  }

  @Override
  void release() throws Exception {
    if (fuse != null) {
      fuse.close();
    }
  }
}
