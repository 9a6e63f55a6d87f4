package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static io.layerd.unpack.Layers.lstat;
import static io.layerd.unpack.Layers.xattr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.ScenarioMain;
import io.layerd.testkit.TarBuilder;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Owners, modes, times and xattrs: set in the order that keeps them (owner, then mode, then xattrs;
 * directory times last), never through a symlink.
 */
class AttributesTest {
  @TempDir Path root;

  static TarBuilder tar() {
    return TarBuilder.create();
  }

  /** A version-2 file capability: cap_net_raw permitted and effective, with NUL and 0xff bytes. */
  static final byte[] CAPABILITY = {
    0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00
  };

  // ---------------------------------------------------------------- owners and modes

  @RootTest
  void ownersAreNumericAndNamesAreIgnored() throws IOException {
    apply(
        root,
        tar()
            .file("f", "f")
            .owner(1234, 5678)
            .uname("root")
            .gname("root")
            .dir("d/")
            .owner(4_000_000_000L, 7)
            .symlink("l", "f")
            .owner(42, 43));
    assertOwner(1234, 5678, root.resolve("f"));
    assertOwner(4_000_000_000L, 7, root.resolve("d"));
    assertOwner(42, 43, root.resolve("l"));
    assertOwner(1234, 5678, root.resolve("f")); // the symlink's chown did not follow it
  }

  @RootTest
  void setuidSetgidAndStickySurviveTheChown() throws IOException {
    apply(
        root,
        tar()
            .file("bin/su", "su")
            .mode(04755)
            .owner(1000, 1000)
            .file("bin/wall", "wall")
            .mode(02755)
            .owner(0, 5)
            .dir("tmp/")
            .mode(01777)
            .owner(1000, 1000)
            .dir("shared/")
            .mode(02775)
            .owner(1000, 1000)
            .fifo("fifo")
            .mode(04640)
            .owner(1000, 1000));
    assertEquals(04755, lstat(root.resolve("bin/su")).permissions());
    assertEquals(02755, lstat(root.resolve("bin/wall")).permissions());
    assertEquals(01777, lstat(root.resolve("tmp")).permissions());
    assertEquals(02775, lstat(root.resolve("shared")).permissions());
    assertEquals(04640, lstat(root.resolve("fifo")).permissions());
    assertOwner(1000, 1000, root.resolve("bin/su"));
    assertOwner(1000, 1000, root.resolve("fifo"));
  }

  @RootTest
  void ownersAreRemapped() throws IOException {
    OwnerMapper shift =
        new OwnerMapper() {
          @Override
          public long uid(long containerUid, TarEntry entry) {
            return 100_000 + containerUid;
          }

          @Override
          public long gid(long containerGid, TarEntry entry) {
            return 200_000 + containerGid;
          }
        };
    apply(
        LayerApplier.builder().owners(shift).build(),
        root,
        tar().file("implied/f", "f").owner(33, 34).symlink("l", "x").owner(1, 2));
    assertOwner(100_033, 200_034, root.resolve("implied/f"));
    assertOwner(100_000, 200_000, root.resolve("implied"));
    assertOwner(100_001, 200_002, root.resolve("l"));
  }

  @Test
  void theKeepMapperLeavesOwnersAlone() throws IOException {
    ApplyResult r =
        apply(
            LayerApplier.builder().owners(OwnerMapper.keep()).build(),
            root,
            tar().file("f", "f").owner(1234, 1234).dir("d/").owner(1234, 1234));
    assertOwner(Sys.geteuid(), Sys.getegid(), root.resolve("f"));
    assertEquals(2, r.skipped().owners());
  }

  /** CVE-2021-32760: a hardlink's header mode is never applied, so never through a symlink. */
  @Test
  void aHardlinkDoesNotChangeItsTargetsMode() throws IOException {
    Path outside = Files.createDirectories(root.resolve("../outside").normalize());
    Path secret = Files.writeString(outside.resolve("secret"), "s");
    Files.setPosixFilePermissions(
        secret, java.nio.file.attribute.PosixFilePermissions.fromString("r--------"));
    Path r = Files.createDirectories(root.resolve("r"));
    apply(r, tar().file("f", "f").mode(0600).hardlink("g", "f").mode(0777));
    apply(r, tar().symlink("s", secret.toString()).hardlink("h", "s").mode(0777));
    assertEquals(0600, lstat(r.resolve("g")).permissions());
    assertEquals(0400, lstat(secret).permissions());
  }

  // ---------------------------------------------------------------- times

  @Test
  void timesKeepTheirNanoseconds() throws IOException {
    apply(
        root,
        tar()
            .dir("d/")
            .mtime(1_600_000_000L, 123_456_789)
            .file("d/f", "f")
            .mtime(1_600_000_001L, 1)
            .symlink("d/l", "f")
            .mtime(1_600_000_002L, 999_999_999)
            .fifo("d/p")
            .mtime(-1, 500_000_000)
            .file("d/atime", "a")
            .mtime(1_600_000_003L, 3)
            .pax("atime", "1500000000.25"));
    assertMtime(1_600_000_000L, 123_456_789, root.resolve("d"));
    assertMtime(1_600_000_001L, 1, root.resolve("d/f"));
    assertMtime(1_600_000_002L, 999_999_999, root.resolve("d/l"));
    assertMtime(-1, 500_000_000, root.resolve("d/p"));
    Stat a = lstat(root.resolve("d/atime"));
    assertEquals(1_500_000_000L, a.atimeSec());
    assertEquals(250_000_000, a.atimeNsec());
  }

  @Test
  void aSymlinksTimesAreItsOwn() throws IOException {
    apply(root, tar().file("t", "t").mtime(1000).symlink("l", "t").mtime(2000));
    assertMtime(1000, 0, root.resolve("t"));
    assertMtime(2000, 0, root.resolve("l"));
  }

  @Test
  void eachDirectorysTimesAreSetAfterItsChildren() throws IOException {
    apply(
        root,
        tar()
            .dir("a/")
            .mtime(1000)
            .dir("a/b/")
            .mtime(2000)
            .file("a/b/f", "f")
            .file("a/g", "g")
            .dir("a/b/c/")
            .mtime(3000)
            .file("a/b/c/h", "h")
            .symlink("a/b/c/l", "h"));
    assertMtime(1000, 0, root.resolve("a"));
    assertMtime(2000, 0, root.resolve("a/b"));
    assertMtime(3000, 0, root.resolve("a/b/c"));
  }

  /** Entries of a directory after entries elsewhere (GNU tar gets this one wrong). */
  @Test
  void directoryTimesHoldWhateverTheEntryOrder() throws IOException {
    apply(
        root,
        tar()
            .dir("a/")
            .mtime(1000)
            .dir("b/")
            .mtime(2000)
            .file("a/late", "x")
            .fifo("b/late")
            .dir("a/sub/")
            .mtime(3000)
            .file("a/sub/later", "y"));
    assertMtime(1000, 0, root.resolve("a"));
    assertMtime(2000, 0, root.resolve("b"));
    assertMtime(3000, 0, root.resolve("a/sub"));
  }

  @Test
  void aLaterLayersFileDoesNotDisturbItsOwnDirectorysTime() throws IOException {
    apply(root, tar().dir("d/").mtime(1000));
    apply(root, tar().dir("d/").mtime(5000).file("d/new", "n"));
    assertMtime(5000, 0, root.resolve("d"));
  }

  // ---------------------------------------------------------------- implied directories, umask

  /** The scenario of {@link #impliedDirectoriesAre0755UnderUmask077}, run under umask 077. */
  static void underUmask(String[] args) throws IOException {
    Path root = Path.of(args[0]);
    if (Sys.umask() != 077) {
      throw new AssertionError("the child's umask is " + Integer.toOctalString(Sys.umask()));
    }
    apply(
        root,
        tar()
            .file("implied/deeper/f", "f")
            .mode(0644)
            .file("explicit400", "x")
            .mode(0400)
            .file("explicit777", "x")
            .mode(0777)
            .dir("dir777/")
            .mode(0777)
            .fifo("fifo666")
            .mode(0666));
    check(root, "implied", 0755);
    check(root, "implied/deeper", 0755);
    check(root, "implied/deeper/f", 0644);
    check(root, "explicit400", 0400);
    check(root, "explicit777", 0777);
    check(root, "dir777", 0777);
    check(root, "fifo666", 0666);
  }

  private static void check(Path root, String path, int mode) throws IOException {
    int actual = lstat(root.resolve(path)).permissions();
    if (actual != mode) {
      throw new AssertionError(
          path
              + ": mode "
              + Integer.toOctalString(actual)
              + ", expected "
              + Integer.toOctalString(mode));
    }
  }

  @Test
  void impliedDirectoriesAre0755UnderUmask077() throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.addAll(List.of("sh", "-c", "umask 077 && exec \"$0\" \"$@\""));
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of("-cp", ChildJvm.classpathCopy(), "-XX:TieredStopAtLevel=1"));
    cmd.addAll(
        List.of(
            ScenarioMain.class.getName(),
            AttributesTest.class.getName(),
            "underUmask",
            root.toString()));
    Path out = Files.createTempFile("layerd-umask-", ".log");
    try {
      Process p =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the umask child did not finish");
      assertEquals(0, p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
    assertTrue(new File(root.toFile(), "implied/deeper/f").isFile());
  }

  // ---------------------------------------------------------------- xattrs

  @RootTest
  void aBinaryCapabilitySurvivesByteForByteAndTheChown() throws IOException {
    ApplyResult r =
        apply(
            root,
            tar()
                .file("ping", "elf")
                .mode(04755)
                .owner(1000, 1000)
                .xattr("security.capability", CAPABILITY));
    assertArrayEquals(CAPABILITY, xattr(root.resolve("ping"), "security.capability"));
    assertEquals(04755, lstat(root.resolve("ping")).permissions());
    assertEquals(0, r.skipped().xattrs());
  }

  @RootTest
  void userTrustedAndSelinuxXattrsApply() throws IOException {
    byte[] binary = {0, 1, 2, '\n', '=', (byte) 0xff, 0};
    apply(
        root,
        tar()
            .file("f", "")
            .xattr("user.key", "value")
            .xattr("user.binary", binary)
            .xattr("trusted.key", "t")
            .xattr("security.selinux", "unconfined_u:object_r:default_t:s0\0")
            .dir("d/")
            .xattr("user.dir", "d"));
    assertArrayEquals(
        "value".getBytes(StandardCharsets.UTF_8), xattr(root.resolve("f"), "user.key"));
    assertArrayEquals(binary, xattr(root.resolve("f"), "user.binary"));
    assertArrayEquals(
        "t".getBytes(StandardCharsets.UTF_8), xattr(root.resolve("f"), "trusted.key"));
    assertArrayEquals(
        "unconfined_u:object_r:default_t:s0\0".getBytes(StandardCharsets.UTF_8),
        xattr(root.resolve("f"), "security.selinux"));
    assertArrayEquals("d".getBytes(StandardCharsets.UTF_8), xattr(root.resolve("d"), "user.dir"));
  }

  @Test
  void aRefusedXattrIsCountedAndReported() throws IOException {
    // The kernel refuses user.* xattrs on symlinks (EPERM): counted, named, the entry kept.
    ApplyResult r = apply(root, tar().symlink("l", "t").xattr("user.on-a-link", "x"));
    assertEquals(1, r.skipped().xattrs());
    assertTrue(
        r.warnings().stream().anyMatch(w -> w.contains("user.on-a-link") && w.contains("'l'")),
        r.warnings().toString());
    assertTrue(lstat(root.resolve("l")).isSymlink());
    assertNull(xattr(root.resolve("l"), "user.on-a-link"));
  }

  // ---------------------------------------------------------------- helpers

  static void assertOwner(long uid, long gid, Path p) throws IOException {
    Stat st = lstat(p);
    assertEquals(uid + ":" + gid, st.uid() + ":" + st.gid(), "the owner of " + p);
  }

  static void assertMtime(long sec, int nsec, Path p) throws IOException {
    Stat st = lstat(p);
    assertEquals(sec + "." + nsec, st.mtimeSec() + "." + st.mtimeNsec(), "the mtime of " + p);
  }
}
