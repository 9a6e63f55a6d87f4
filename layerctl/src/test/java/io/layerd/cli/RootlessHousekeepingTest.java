package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a plain user does with what a rootless unpack left: {@code layerctl rm} removes a tree owned
 * by the user's subordinate ids, {@code layerctl unshare} runs a command as root of the namespace.
 */
class RootlessHousekeepingTest {
  @TempDir Path tmp;

  /** In the child: layerctl ARGS[1..] must exit ARGS[0]. */
  static void expect(String[] args) {
    String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
    assertEquals(Integer.parseInt(args[0]), Main.commandLine().execute(rest));
  }

  @UserNsTest
  void rmRemovesATreeOwnedBySubordinateIds() throws IOException {
    TestUser u = TestUser.standard();
    Path base = Files.createDirectory(tmp.resolve("base"));
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
    tmp.toFile().setExecutable(true, false);
    Path tree = Files.createDirectories(base.resolve("rootfs/etc"));
    Files.writeString(tree.resolve("passwd"), "root:x:0:0::/root:/bin/sh\n");
    long sub = u.subuidStart() + 4; // container id 5 in the rootless layout
    u.own(base.resolve("rootfs"));
    for (Path p : new Path[] {tree, tree.resolve("passwd")}) {
      Files.setAttribute(p, "unix:uid", (int) sub);
      Files.setAttribute(p, "unix:gid", (int) (u.subgidStart() + 4));
    }
    ChildJvm.call(
            u,
            Mode.USER,
            RootlessHousekeepingTest::expect,
            "0",
            "rm",
            base.resolve("rootfs").toString())
        .assertSuccess();
    assertFalse(Files.exists(base.resolve("rootfs")));
  }

  @UserNsTest
  void unshareRunsACommandAsRootOfTheNamespace() {
    ChildJvm.call(
            TestUser.standard(),
            Mode.USER,
            RootlessHousekeepingTest::expect,
            "7",
            "unshare",
            "sh",
            "-c",
            "[ \"$(id -u)\" = 0 ] && grep -q '^ *1 ' /proc/self/uid_map && exit 7")
        .assertSuccess();
  }
}
