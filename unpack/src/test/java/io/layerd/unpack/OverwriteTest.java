package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static io.layerd.unpack.Layers.assertTree;
import static io.layerd.unpack.Layers.dir;
import static io.layerd.unpack.Layers.file;
import static io.layerd.unpack.Layers.lstat;
import static io.layerd.unpack.Layers.symlink;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.TreeManifest.Entry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a layer does to what is already there: a directory over a directory is kept and takes the
 * new attributes; any other overwrite unlinks, then creates, so nothing is written through an
 * existing symlink or hardlink; of duplicate entries the later wins.
 */
class OverwriteTest {
  @TempDir Path tmp;

  Path root() throws IOException {
    return Files.createDirectories(tmp.resolve("root"));
  }

  static TarBuilder tar() {
    return TarBuilder.create();
  }

  @Test
  void aDirectoryOverADirectoryKeepsItsContentsAndTakesTheNewAttributes() throws IOException {
    Path root = root();
    apply(root, tar().dir("d/").mode(0700).mtime(1000).file("d/lower", "l"));
    Stat before = lstat(root.resolve("d"));
    apply(root, tar().dir("d/").mode(0751).mtime(2000, 5).file("d/upper", "u"));
    Stat after = lstat(root.resolve("d"));
    assertEquals(before.ino(), after.ino(), "the directory was replaced");
    assertEquals(2000, after.mtimeSec());
    assertEquals(5, after.mtimeNsec());
    assertTree(root, dir("d", 0751), file("d/lower", "l"), file("d/upper", "u"));
  }

  @Test
  void aFileOverAHardlinkDoesNotWriteThroughIt() throws IOException {
    Path root = root();
    apply(root, tar().file("a", "lower").hardlink("b", "a"));
    Stat old = lstat(root.resolve("b"));
    apply(root, tar().file("a", "upper").mode(0600));
    assertTree(root, file("a", "upper", 0600), file("b", "lower"));
    assertEquals(old.ino(), lstat(root.resolve("b")).ino());
    assertEquals(1, lstat(root.resolve("b")).nlink());
  }

  @Test
  void aFileOverASymlinkReplacesTheLinkNotItsTarget() throws IOException {
    Path root = root();
    apply(root, tar().file("target", "t").symlink("a", "target").symlink("abs", "/target"));
    apply(root, tar().file("a", "new").file("abs", "new abs"));
    assertTree(root, file("target", "t"), file("a", "new"), file("abs", "new abs"));
  }

  @Test
  void aFileOverADirectoryRemovesTheDirectory() throws IOException {
    Path root = root();
    apply(root, tar().dir("d/").dir("d/e/").file("d/e/f", "f"));
    apply(root, tar().file("d", "now a file"));
    assertTree(root, file("d", "now a file"));
  }

  @Test
  void aSymlinkOverAFileAndADirectory() throws IOException {
    Path root = root();
    apply(root, tar().file("f", "f").dir("d/").file("d/x", "x"));
    apply(root, tar().symlink("f", "elsewhere").symlink("d", "/f"));
    assertTree(root, symlink("f", "elsewhere"), symlink("d", "/f"));
  }

  @Test
  void aDirectoryOverAFileAndOverASymlinkToADirectory() throws IOException {
    Path root = root();
    apply(root, tar().file("f", "f").dir("t/").file("t/x", "x").symlink("l", "t"));
    apply(root, tar().dir("f/").dir("l/").file("l/y", "y"));
    assertTree(root, dir("f"), dir("t"), file("t/x", "x"), dir("l"), file("l/y", "y"));
  }

  @Test
  void aHardlinkOverAnExistingFile() throws IOException {
    Path root = root();
    apply(root, tar().file("a", "a").file("b", "old b"));
    apply(root, tar().hardlink("b", "a"));
    TreeManifest m = TreeManifest.of(root, Layers.SHAPE);
    assertEquals("a", m.get("b").orElseThrow().hardlink());
    assertEquals(
        TreeManifest.sha256("a".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        m.get("b").orElseThrow().sha256());
  }

  @Test
  void aHardlinkToItselfIsHarmless() throws IOException {
    Path root = root();
    apply(root, tar().file("a", "a"));
    apply(root, tar().hardlink("a", "a"));
    assertTree(root, file("a", "a"));
  }

  @Test
  void aFifoOverAFile() throws IOException {
    Path root = root();
    apply(root, tar().file("p", "was a file"));
    apply(root, tar().fifo("p").mode(0640));
    assertTrue(lstat(root.resolve("p")).isFifo());
    assertEquals(0640, lstat(root.resolve("p")).permissions());
  }

  @RootTest
  void aDeviceOverASymlinkDoesNotTouchTheTarget() throws IOException {
    Path root = root();
    apply(root, tar().file("t", "t").symlink("dev", "t"));
    apply(root, tar().charDevice("dev", 1, 3).mode(0666));
    Stat st = lstat(root.resolve("dev"));
    assertTrue(st.isCharDevice());
    assertEquals(1, st.rdevMajor());
    assertEquals(3, st.rdevMinor());
    assertTree(
        root,
        file("t", "t"),
        Entry.special("dev", TreeManifest.Type.CHAR, 0666, Layers.UID, Layers.GID, 1, 3));
  }

  // ---------------------------------------------------------------- duplicates: the later wins

  @Test
  void aDuplicateFileTheLaterWins() throws IOException {
    Path root = root();
    apply(root, tar().file("a", "first").mode(0600).file("a", "second").mode(0640));
    assertTree(root, file("a", "second", 0640));
  }

  @Test
  void aDuplicateDirectoryTheLaterWinsItsModeAndTimes() throws IOException {
    Path root = root();
    apply(
        root,
        tar()
            .dir("d/")
            .mode(0700)
            .mtime(1_000_000_000L, 111)
            .file("d/f", "f")
            .dir("d/")
            .mode(0755)
            .mtime(1_500_000_000L, 222));
    Stat st = lstat(root.resolve("d"));
    assertEquals(0755, st.permissions());
    assertEquals(1_500_000_000L, st.mtimeSec(), "the earlier entry's mtime won");
    assertEquals(222, st.mtimeNsec());
  }

  @Test
  void aFileThenADirectoryOfTheSameNameThenBack() throws IOException {
    Path root = root();
    apply(root, tar().file("x", "file").dir("x/").file("x/in", "in"));
    assertTree(root, dir("x"), file("x/in", "in"));
    apply(
        root,
        tar().dir("y/").file("y/in", "in").file("y", "file").symlink("z", "y").file("z", "z"));
    assertTree(root, dir("x"), file("x/in", "in"), file("y", "file"), file("z", "z"));
  }

  /** umoci: a file, then a path below it: the file becomes a directory. */
  @Test
  void aFileInTheWayOfAPathBecomesADirectory() throws IOException {
    Path root = root();
    apply(root, tar().file("nondir", "x").file("nondir/foo/bar/baz", "deep"));
    assertTree(
        root,
        dir("nondir"),
        dir("nondir/foo"),
        dir("nondir/foo/bar"),
        file("nondir/foo/bar/baz", "deep"));
  }

  /** containerd TestApplyTar DirectoryCreation: parents without entries are made. */
  @Test
  void directoriesWithoutEntriesAreMade() throws IOException {
    Path root = root();
    apply(root, tar().dir("etc/"));
    apply(
        root,
        tar()
            .dir("/etc/subdir")
            .dir("/etc/subdir2/")
            .dir("/etc/subdir2/more")
            .dir("/other/noparent-1/1")
            .dir("/other/noparent-2/2/"));
    assertTree(
        root,
        dir("etc"),
        dir("etc/subdir"),
        dir("etc/subdir2"),
        dir("etc/subdir2/more"),
        dir("other"),
        dir("other/noparent-1"),
        dir("other/noparent-1/1"),
        dir("other/noparent-2"),
        dir("other/noparent-2/2"));
  }

  @Test
  void theRootEntryTakesItsAttributes() throws IOException {
    Path root = root();
    apply(root, tar().dir("./").mode(0750).mtime(1234, 5678).file("f", "f"));
    Stat st = lstat(root);
    assertEquals(0750, st.permissions());
    assertEquals(1234, st.mtimeSec());
    assertEquals(5678, st.mtimeNsec());
  }

  @Test
  void aNonDirectoryNamingTheRootIsIgnored() throws IOException {
    Path root = root();
    ApplyResult r = apply(root, tar().file("./", "x").symlink("/", "/etc").hardlink(".", "f"));
    assertTrue(lstat(root).isDirectory());
    assertEquals(3, r.warnings().size(), r.warnings().toString());
    assertNotEquals(0, r.counts().entries());
  }
}
