package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@link ContainerdRig}: a private containerd that imports and runs busybox on {@code native}. */
class ContainerdRigTest {
  private static final String BUSYBOX = "busybox:1.38.0-glibc";

  @RootTest
  void runsBusyboxOnTheNativeSnapshotter() throws Exception {
    for (String c : List.of("containerd", "ctr", "runc", "containerd-shim-runc-v2", "tar")) {
      Require.command(c);
    }
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    try (ContainerdRig rig = ContainerdRig.start(dir, null, null)) {
      // an OCI image layout directory (named by its index's annotation) and a docker-save tar
      rig.importImage(TestData.file("images/busybox-1.38.0-glibc-oci"), "native");
      rig.importImage(TestData.file("images/ggcr-whiteout-docker-save.tar"), "native");
      List<String> images = rig.images();
      assertTrue(images.contains(BUSYBOX), "imported: " + images);
      assertTrue(images.contains("docker.io/library/whiteout:latest"), "imported: " + images);

      String out =
          rig.run(BUSYBOX, "native", "rig-test", "sh", "-c", "echo hello; head -1 /etc/passwd");
      assertEquals("hello\nroot:x:0:0:root:/root:/bin/sh\n", out);
      assertEquals("", rig.ok("containers", "ls", "-q").out().strip(), "--rm removed it");

      rig.ok("images", "rm", BUSYBOX);
      assertFalse(rig.images().contains(BUSYBOX), "removed");
    }
    assertFalse(Files.exists(dir), "close removes " + dir);
    assertFalse(
        Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + dir + "/"),
        "nothing stays mounted under " + dir);
  }
}
