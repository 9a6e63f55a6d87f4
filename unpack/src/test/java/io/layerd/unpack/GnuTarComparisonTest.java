package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import io.layerd.testkit.TreeManifest;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same layer unpacked by layerd and by GNU tar ({@code tar --numeric-owner --xattrs
 * --xattrs-include='*' -xpf}, as root) gives the same tree: every entry, mode, owner, content, link
 * target, device number, hardlink group, mtime and xattr. Real layers from testdata/layers (see
 * testdata/README.md) and one layer with every entry type.
 */
class GnuTarComparisonTest {
  @TempDir Path tmp;

  /** The root's own attributes differ (tar leaves them; the layers say nothing about them). */
  static final TreeManifest.Options OPTIONS =
      TreeManifest.Options.builder().ignoreRootAttributes().build();

  static Path testdata(String rel) {
    Path p = TestData.root().resolve("testdata").resolve(rel);
    Require.that(Files.isRegularFile(p), "needs the test layer " + p);
    return p;
  }

  void compare(String name, byte[] layer, boolean compressedForTar) throws Exception {
    Require.root();
    Path tarCmd = Require.command("tar");
    Path byTar = Files.createDirectories(tmp.resolve(name + "-tar"));
    Path byLayerd = Files.createDirectories(tmp.resolve(name + "-layerd"));
    Path file = tmp.resolve(name + ".layer");
    Files.write(file, layer);
    List<String> cmd =
        new ArrayList<>(
            List.of(
                tarCmd.toString(),
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-xpf",
                file.toString(),
                "-C",
                byTar.toString()));
    if (!compressedForTar) {
      cmd.add(1, "--no-auto-compress");
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("GNU tar did not finish");
    }
    assertEquals(0, p.exitValue(), "GNU tar failed: " + out);
    Layers.apply(LayerApplier.builder().build(), byLayerd, name, layer);
    TreeManifest.assertSame(TreeManifest.of(byTar, OPTIONS), TreeManifest.of(byLayerd, OPTIONS));
  }

  @EndToEndTest
  void alpineMinirootfs() throws Exception {
    byte[] l = Files.readAllBytes(testdata("layers/alpine-minirootfs-3.20.3-x86_64.tar.gz"));
    compare("alpine", l, true);
  }

  @EndToEndTest
  void cirrosRootfs() throws Exception {
    byte[] l = Files.readAllBytes(testdata("layers/cirros-0.5.3-rootfs-x86_64.tar.xz"));
    compare("cirros", l, true);
  }

  @EndToEndTest
  void mobyCapabilityLayer() throws Exception {
    byte[] l = Files.readAllBytes(testdata("layers/moby-xattr-capability-layer.tar"));
    compare("capability", l, false);
  }

  @EndToEndTest
  void everyEntryType() throws Exception {
    // Entries grouped by directory: GNU tar sets a directory's times as soon as an entry outside
    // it comes, so an entry inside it after that leaves it with the time of extraction. layerd
    // sets every directory's times at the end, right whatever the order.
    byte[] l =
        TarBuilder.create()
            .dir("dev/")
            .charDevice("dev/null", 1, 3)
            .mode(0666)
            .blockDevice("dev/loop0", 7, 0)
            .mode(0660)
            .dir("run/")
            .fifo("run/fifo")
            .mode(0600)
            .dir("tmp/")
            .mode(01777)
            .dir("d/")
            .mode(02775)
            .owner(1000, 1001)
            .mtime(1_600_000_000L, 123_456_789)
            .file("d/f", "content")
            .mode(04755)
            .owner(1000, 1000)
            .xattr("user.note", new byte[] {0, 1, (byte) 0xff})
            .xattr("security.capability", AttributesTest.CAPABILITY)
            .hardlink("d/hard", "d/f")
            .symlink("d/sym", "../etc/none")
            .owner(7, 8)
            .file("big", 200_000)
            .owner(65534, 65534)
            .build();
    compare("all-types", l, false);
  }
}
