package io.layerd.driver.vfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.UserNsTest;
import io.layerd.unpack.LayerApplier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TreeCopierTest {
  /** vfs_cap_data revision 2, effective, permitted CAP_NET_RAW (bit 13): 20 bytes. */
  private static final byte[] CAP_NET_RAW = {
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  };

  @TempDir Path tmp;
  private final TreeCopier copier = new TreeCopier(TreeCopier.defaultThreads(), true);

  @AfterEach
  void closeCopier() {
    copier.close();
  }

  /** A tree with one of everything a layer holds, made by the applier (as root). */
  static void everything(Path dir) throws IOException {
    TarBuilder t =
        TarBuilder.create()
            .dir("./")
            .mode(0751)
            .owner(3, 4)
            .mtime(1_600_000_000L, 123_456_789)
            .dir("etc/")
            .owner(0, 0)
            .mtime(1_600_000_001L, 1)
            .file("etc/passwd", "root:x:0:0\n")
            .mode(0644)
            .mtime(1_600_000_002L, 999_999_999)
            .file("etc/shadow", "secret\n")
            .mode(0)
            .dir("usr/bin/")
            .file("usr/bin/su", 70_000)
            .mode(04755)
            .owner(0, 0)
            .xattr("security.capability", CAP_NET_RAW)
            .file("usr/bin/wall", 3000)
            .mode(02755)
            .owner(0, 5)
            .file("usr/bin/data", 3_000_000)
            .owner(1000, 1000)
            .xattr("user.origin", "layer")
            .xattr("trusted.layerd", new byte[] {0, (byte) 0xff})
            .hardlink("usr/bin/su-again", "usr/bin/su")
            .dir("other/")
            .hardlink("other/passwd-link", "etc/passwd")
            .symlink("usr/bin/sh", "/bin/bash")
            .owner(1000, 1001)
            .mtime(1_600_000_003L, 5)
            .symlink("escape", "../../..")
            .symlink("abs", "/etc")
            .dir("tmp/")
            .mode(01777)
            .dir("ro/")
            .mode(0555)
            .owner(1000, 1000)
            .xattr("user.dir", "yes")
            .dir("ro/inside/")
            .mode(0500)
            .file("ro/inside/f", "deep")
            .mode(0400)
            .fifo("run/fifo")
            .mode(0620)
            .owner(7, 8)
            .charDevice("dev/null", 1, 3)
            .mode(0666)
            .blockDevice("dev/sda", 8, 0)
            .mode(0660)
            .owner(0, 6)
            .file("empty", new byte[0]);
    for (int i = 0; i < 200; i++) {
      t.file("many/" + (i % 10) + "/f" + i, i * 37L);
    }
    Files.createDirectories(dir);
    LayerApplier.builder()
        .strictDevices(true)
        .build()
        .apply("everything", new ByteArrayInputStream(t.build()), dir, LayerApplier.Expect.NOTHING);
    try (Fd d = Sys.openDirectory(dir.resolve("run").toString())) {
      Sys.mknodat(d.get(), Names.bytes("socket"), Sys.S_IFSOCK | 0755, 0, 0);
    }
  }

  private TreeCopier.Result copy(Path src, Path dst) throws IOException {
    Files.createDirectories(dst);
    try (Fd s = Sys.openDirectory(src.toString());
        Fd d = Sys.openDirectory(dst.toString())) {
      return copier.copy(s.get(), d.get());
    }
  }

  @RootTest
  void keepsEverythingALayerHolds() throws IOException {
    Path src = tmp.resolve("src");
    everything(src);
    Stat dataBefore = Sys.lstat(src.resolve("usr/bin/data").toString());
    TreeCopier.Result r = copy(src, tmp.resolve("dst"));
    Stat data = Sys.lstat(tmp.resolve("dst/usr/bin/data").toString()); // before reading it
    assertEquals(dataBefore.atimeSec(), data.atimeSec(), "atime");
    assertEquals(dataBefore.atimeNsec(), data.atimeNsec());

    // Everything: owners, modes, xattrs, nanosecond mtimes of directories too, the root's own.
    TreeManifest.assertSame(TreeManifest.of(src), TreeManifest.of(tmp.resolve("dst")));
    assertEquals(0, r.refusedXattrs(), r.warnings().toString());
    assertEquals(2, r.hardlinks());
    assertEquals(4, r.specials(), "fifo, socket, two devices");
    assertEquals(3, r.symlinks());
    assertTrue(r.bytes() > 3_000_000, "bytes: " + r.bytes());
    Stat sock = Sys.lstat(tmp.resolve("dst/run/socket").toString());
    assertTrue(sock.isSocket());
    assertEquals(0755, sock.permissions());
    assertEquals(
        Sys.lstat(src.resolve("usr/bin/su").toString()).ino(),
        Sys.lstat(src.resolve("usr/bin/su-again").toString()).ino());
  }

  @RootTest
  void nothingOutsideTheTreeIsTouched() throws IOException {
    Path outside = Files.createDirectories(tmp.resolve("outside"));
    Files.writeString(outside.resolve("keep"), "outside");
    Path src = tmp.resolve("a/b/src");
    Files.createDirectories(src.resolve("d"));
    Files.createSymbolicLink(src.resolve("up"), Path.of("../../../outside"));
    Files.createSymbolicLink(src.resolve("d/abs"), outside);
    Files.createLink(src.resolve("d/hard"), outside.resolve("keep")); // a link from outside
    TreeManifest before = TreeManifest.of(outside);
    copy(src, tmp.resolve("dst"));
    assertTrue(Files.isSymbolicLink(tmp.resolve("dst/up")));
    assertTrue(Files.isSymbolicLink(tmp.resolve("dst/d/abs")));
    assertEquals("outside", Files.readString(tmp.resolve("dst/d/hard")), "content, not a link");
    assertEquals(1, Sys.lstat(tmp.resolve("dst/d/hard").toString()).nlink());
    TreeManifest.assertSame(before, TreeManifest.of(outside));
  }

  @Test
  void aFailureIsThrownAfterTheWorkInFlight() throws IOException {
    Path src = Files.createDirectories(tmp.resolve("src"));
    for (int i = 0; i < 50; i++) {
      Files.writeString(src.resolve("f" + i), "x".repeat(i));
    }
    Path dst = Files.createDirectories(tmp.resolve("dst"));
    Files.writeString(dst.resolve("f25"), "in the way");
    assertThrows(FileAlreadyExistsException.class, () -> copy(src, dst));
  }

  /**
   * On a filesystem without reflinks (a tmpfs of its own, whatever filesystem the temporary
   * directory is on), the probe says why and data goes through copy_file_range.
   */
  @RootTest
  void withoutReflinksCopiesWithCopyFileRange() throws IOException {
    Path mnt = Files.createDirectories(tmp.resolve("tmpfs"));
    Sys.mount("tmpfs", mnt.toString(), "tmpfs", 0, "size=16m");
    try {
      try (Fd d = Sys.openDirectory(mnt.toString())) {
        String problem = TreeCopier.reflinkProblem(d.get());
        assertNotNull(problem, "tmpfs offers no reflinks");
        assertTrue(problem.contains("FICLONE"), problem);
      }
      try (var s = Files.list(mnt)) {
        assertEquals(0, s.count(), "the probe leaves nothing");
      }
      Path src = Files.createDirectories(mnt.resolve("src"));
      Files.write(src.resolve("f"), new byte[100_000]);
      TreeCopier.Result r = copy(src, mnt.resolve("dst"));
      assertEquals(TreeCopier.DataMethod.COPY_FILE_RANGE, r.method());
      assertEquals(0, r.reflinkedFiles());
      assertEquals(100_000, r.bytes());
    } finally {
      Sys.umount2(mnt.toString(), 0);
    }
  }

  /** On a loop-mounted btrfs, file content is shared (FICLONE). */
  @RootTest
  void btrfsSharesContentByReflink() throws IOException {
    Require.command("mkfs.btrfs");
    Path img = tmp.resolve("btrfs.img");
    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
    try (var ch =
        java.nio.channels.FileChannel.open(
            img, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(0);
      ch.position(256L << 20).write(java.nio.ByteBuffer.wrap(new byte[1]));
    }
    run("mkfs.btrfs", "-q", img.toString());
    run("mount", "-o", "loop", img.toString(), mnt.toString());
    try {
      try (Fd d = Sys.openDirectory(mnt.toString())) {
        assertNull(TreeCopier.reflinkProblem(d.get()));
      }
      Path src = mnt.resolve("src");
      everything(src);
      TreeCopier.Result r = copy(src, mnt.resolve("dst"));
      assertEquals(TreeCopier.DataMethod.FICLONE, r.method());
      assertEquals(r.files(), r.reflinkedFiles());
      TreeManifest.assertSame(TreeManifest.of(src), TreeManifest.of(mnt.resolve("dst")));
    } finally {
      run("umount", mnt.toString());
    }
  }

  private static void run(String... cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      assertTrue(p.waitFor(1, TimeUnit.MINUTES), String.join(" ", cmd) + " took too long");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
  }

  /**
   * Rootless: extended attributes the user namespace may not set (security.* other than
   * capabilities) are counted and listed, the rest is copied.
   */
  @UserNsTest
  void refusedXattrsAreReportedRootless() throws IOException {
    TestUser user = TestUser.standard();
    Path base = Files.createTempDirectory(Path.of("/tmp"), "layerd-copier-");
    try {
      Path src = Files.createDirectories(base.resolve("src/d"));
      Files.writeString(src.resolve("f"), "f");
      try (Fd d = Sys.openDirectory(src.toString())) {
        Sys.lsetxattrAt(d.get(), Names.bytes("f"), "security.layerd-test", new byte[] {1}, 0);
        Sys.lsetxattrAt(d.get(), Names.bytes("f"), "user.kept", new byte[] {2}, 0);
      }
      run("chown", "-R", user.uid() + ":" + user.gid(), base.toString());
      ChildJvm.Result r =
          ChildJvm.call(
              user,
              ChildJvm.Mode.USER_NAMESPACE,
              TreeCopierTest::copyReportingRefusals,
              base.resolve("src").toString(),
              base.resolve("dst").toString());
      r.assertSuccess();
    } finally {
      run("rm", "-rf", base.toString());
    }
  }

  /** Runs in the child: copies, expects one refusal. */
  static void copyReportingRefusals(String[] args) throws IOException {
    Path dst = Files.createDirectories(Path.of(args[1]));
    TreeCopier.Result r;
    try (TreeCopier c = new TreeCopier(2, false);
        Fd s = Sys.openDirectory(args[0]);
        Fd d = Sys.openDirectory(dst.toString())) {
      r = c.copy(s.get(), d.get());
    }
    assertEquals(1, r.refusedXattrs(), r.warnings().toString());
    assertTrue(r.warnings().get(0).contains("/d/f: extended attribute security.layerd-test"));
    assertTrue(r.warnings().get(0).contains("EPERM"), r.warnings().get(0));
    assertNotNull(Sys.lgetxattr(Names.bytes(dst.resolve("d/f").toString()), "user.kept"));
    assertFalse(
        Sys.llistxattr(Names.bytes(dst.resolve("d/f").toString()))
            .contains("security.layerd-test"));
  }
}
