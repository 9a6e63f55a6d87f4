package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static io.layerd.unpack.Layers.assertTree;
import static io.layerd.unpack.Layers.dir;
import static io.layerd.unpack.Layers.file;
import static io.layerd.unpack.Layers.lstat;
import static io.layerd.unpack.Layers.refused;
import static io.layerd.unpack.Layers.symlink;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.HeaderBlock;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.TreeManifest.Entry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every entry type a layer may hold, and what each becomes. */
class EntryTypesTest {
  @TempDir Path root;

  static TarBuilder tar() {
    return TarBuilder.create();
  }

  @Test
  void filesDirectoriesAndSymlinks() throws IOException {
    ApplyResult r =
        apply(
            root,
            tar()
                .dir("d/")
                .mode(0710)
                .file("d/empty", "")
                .file("d/big", 3 * 1024 * 1024 + 17)
                .mode(0600)
                .symlink("abs", "/d/big")
                .symlink("rel", "d/../d/big")
                .symlink("dangling", "../../no/such/thing")
                .symlink("dir-ish", "d/"));
    assertEquals(2, r.counts().files());
    assertEquals(1, r.counts().directories());
    assertEquals(4, r.counts().symlinks());
    assertEquals(7, r.counts().entries());
    assertTree(
        root,
        dir("d", 0710),
        file("d/empty", ""),
        Entry.file("d/big", TarBuilder.generatedContent(3 * 1024 * 1024 + 17), 0600, 0, 0)
            .withOwner(Layers.UID, Layers.GID),
        symlink("abs", "/d/big"),
        symlink("rel", "d/../d/big"),
        symlink("dangling", "../../no/such/thing"),
        symlink("dir-ish", "d/"));
  }

  @Test
  void symlinkTargetsAreKeptByteForByte() throws IOException {
    byte[] target = {'/', 'x', (byte) 0xff, (byte) 0xfe, '/', '.', '.', '/', 'y', ' ', '\n', 'z'};
    apply(root, tar().symlink("odd".getBytes(StandardCharsets.UTF_8), target));
    try (Fd r = Sys.openDirectory(root.toString())) {
      assertArrayEquals(target, Sys.readlinkat(r.get(), Names.bytes("odd")));
    }
  }

  @Test
  void namesThatAreNotUtf8() throws IOException {
    byte[] name = {'c', 'a', 'f', (byte) 0xe9};
    apply(root, tar().file(name, "latin-1").dir(new byte[] {'d', (byte) 0x80, '/'}));
    try (Fd r = Sys.openDirectory(root.toString())) {
      assertTrue(Sys.fstatat(r.get(), name, Sys.AT_SYMLINK_NOFOLLOW).isRegular());
      assertTrue(
          Sys.fstatat(r.get(), new byte[] {'d', (byte) 0x80}, Sys.AT_SYMLINK_NOFOLLOW)
              .isDirectory());
    }
  }

  @Test
  void hardlinksInTheSameLayerShareAnInode() throws IOException {
    ApplyResult r =
        apply(
            root,
            tar().dir("a/").file("a/f", "content").hardlink("b/g", "a/f").hardlink("h", "/a/f"));
    assertEquals(2, r.counts().hardlinks());
    Stat f = lstat(root.resolve("a/f"));
    assertEquals(f.ino(), lstat(root.resolve("b/g")).ino());
    assertEquals(f.ino(), lstat(root.resolve("h")).ino());
    assertEquals(3, f.nlink());
  }

  @Test
  void aHardlinkToAFileOfALowerLayer() throws IOException {
    apply(root, tar().dir("usr/bin/").file("usr/bin/perl", "#!"));
    apply(root, tar().hardlink("usr/bin/perl5", "usr/bin/perl"));
    assertEquals(
        lstat(root.resolve("usr/bin/perl")).ino(), lstat(root.resolve("usr/bin/perl5")).ino());
  }

  /** A hardlink to a symlink links the symlink itself (umoci, containerd). */
  @Test
  void aHardlinkToASymlinkSharesTheSymlinksInode() throws IOException {
    apply(root, tar().symlink("link", "/nowhere").hardlink("link2", "link"));
    Stat a = lstat(root.resolve("link"));
    Stat b = lstat(root.resolve("link2"));
    assertTrue(b.isSymlink());
    assertEquals(a.ino(), b.ino());
    assertEquals("/nowhere", Files.readSymbolicLink(root.resolve("link2")).toString());
  }

  @Test
  void aHardlinkToNothingToADirectoryOrToTheRootIsRefused() {
    LayerApplier a = LayerApplier.builder().build();
    for (TarBuilder t :
        new TarBuilder[] {
          tar().hardlink("x", "missing"),
          tar().dir("d/").hardlink("x", "d"),
          tar().hardlink("x", "/"),
          tar().hardlink("x", "../.."),
        }) {
      LayerApplyException e = refused(a, root, "links", t.build());
      assertTrue(e.getCause() instanceof InvalidArchiveException, e.toString());
      assertTrue(e.getMessage().contains("hardlink 'x'"), e.getMessage());
    }
  }

  @Test
  void aFifo() throws IOException {
    apply(root, tar().fifo("run/pipe").mode(0620));
    Stat st = lstat(root.resolve("run/pipe"));
    assertTrue(st.isFifo());
    assertEquals(0620, st.permissions());
  }

  @RootTest
  void charAndBlockDevices() throws IOException {
    ApplyResult r =
        apply(
            root,
            tar()
                .charDevice("dev/null", 1, 3)
                .mode(0666)
                .blockDevice("dev/loop9", 7, 9)
                .mode(0660)
                .charDevice("dev/big", 4095, 1_048_575)
                .mode(0600)
                .format(TarBuilder.Format.GNU));
    assertEquals(0, r.skipped().devices());
    assertTree(
        root,
        dir("dev"),
        Entry.special("dev/null", TreeManifest.Type.CHAR, 0666, 0, 0, 1, 3),
        Entry.special("dev/loop9", TreeManifest.Type.BLOCK, 0660, 0, 0, 7, 9),
        Entry.special("dev/big", TreeManifest.Type.CHAR, 0600, 0, 0, 4095, 1_048_575));
  }

  @Test
  void anUnknownTypeIsSkippedWithAWarning() throws IOException {
    byte[] data = "ignored data".getBytes(StandardCharsets.UTF_8);
    byte[] padded = java.util.Arrays.copyOf(data, 512);
    ApplyResult r =
        apply(
            root,
            tar()
                .raw(
                    HeaderBlock.ustar()
                        .name("weird")
                        .mode(0644)
                        .size(data.length)
                        .typeflag('Z')
                        .toBytes())
                .raw(padded)
                .file("after", "fine"));
    assertTrue(r.warnings().toString().contains("weird"), r.warnings().toString());
    assertTree(root, file("after", "fine"));
  }

  @Test
  void longNamesAndLinkNames() throws IOException {
    String deep = "a".repeat(60) + "/" + "b".repeat(60) + "/" + "c".repeat(120);
    String target = "/" + "t".repeat(200);
    apply(
        root,
        tar().file(deep, "pax").symlink("pax-link", target),
        TarBuilder.create(TarBuilder.Format.GNU)
            .file(deep + "-gnu", "gnu")
            .symlink("gnu-link", target)
            .hardlink("gnu-hard-" + "h".repeat(150), deep));
    assertEquals("pax", Files.readString(root.resolve(deep)));
    assertEquals("gnu", Files.readString(root.resolve(deep + "-gnu")));
    assertEquals(target, Files.readSymbolicLink(root.resolve("pax-link")).toString());
    assertEquals(target, Files.readSymbolicLink(root.resolve("gnu-link")).toString());
    assertEquals(
        lstat(root.resolve(deep)).ino(), lstat(root.resolve("gnu-hard-" + "h".repeat(150))).ino());
  }
}
