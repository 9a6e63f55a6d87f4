package io.layerd.unpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestData;
import io.layerd.testkit.TreeManifest;
import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.Compression;
import io.layerd.unpack.LayerApplyException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real images of testdata/images (see testdata/README.md), unpacked as root: whiteouts,
 * hardlinks, zstd, owners beyond 65,535, and a tampered copy that must fail.
 */
class RealImagesTest {
  @TempDir Path tmp;

  private static final ImageUnpacker DEFAULT = ImageUnpacker.builder().build();

  private static Stat lstat(Path p) throws IOException {
    return Sys.lstat(p.toString());
  }

  @RootTest
  void busyboxOciLayoutKeepsItsHardlinks() throws IOException {
    Path dest = tmp.resolve("busybox");
    ImageResult r = DEFAULT.unpack(TestData.file("images/busybox-1.38.0-glibc-oci"), dest);
    assertEquals(ImageResult.OCI_LAYOUT, r.format());
    assertEquals("busybox:1.38.0-glibc", r.refName());
    assertEquals("linux/amd64", r.platform().toString());
    assertEquals(1, r.layers().size());
    ApplyResult l = r.layers().get(0);
    assertEquals(Compression.GZIP, l.digests().compression());
    assertEquals(410, l.counts().hardlinks());
    assertEquals(
        "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc",
        l.digests().diffId());
    // The 410 hardlinks survive as names of one inode.
    TreeManifest m = TreeManifest.of(dest);
    long grouped = m.entries().stream().filter(e -> e.hardlink() != null).count();
    assertEquals(411, grouped, "410 hardlinks and the file they name");
    Stat home = lstat(dest.resolve("home"));
    assertEquals(65534, home.uid());
  }

  @RootTest
  void ociLayoutAsATarEqualsTheDirectory() throws IOException {
    Path layout = TestData.file("images/busybox-1.38.0-glibc-oci");
    Path tar = tmp.resolve("busybox-oci.tar");
    TestImages.tarUp(layout, tar);
    ImageResult fromTar = DEFAULT.unpack(tar, tmp.resolve("a"));
    DEFAULT.unpack(layout, tmp.resolve("b"));
    assertEquals(410, fromTar.layers().get(0).counts().hardlinks());
    TreeManifest.assertSame(TreeManifest.of(tmp.resolve("b")), TreeManifest.of(tmp.resolve("a")));
  }

  @RootTest
  void diveDockerSaveAppliesWhiteouts() throws IOException {
    Path dest = tmp.resolve("dive");
    ImageResult r = DEFAULT.unpack(TestData.file("images/dive-test-docker-image.tar"), dest);
    assertEquals(ImageResult.DOCKER_SAVE, r.format());
    assertEquals("dive-test:latest", r.refName());
    assertEquals(14, r.layers().size());
    // Layer 10 whites out root/example (and with it everything layers 3-8 put there).
    assertFalse(Files.exists(dest.resolve("root/example")));
    assertTrue(Files.isRegularFile(dest.resolve("root/saved.txt")));
    assertEquals(0755, lstat(dest.resolve("root/saved.txt")).permissions());
    assertTrue(Files.isRegularFile(dest.resolve("root/.data/saved.again2.txt")));
    assertTrue(Files.isRegularFile(dest.resolve("tmp/saved.again1.txt")));
    assertEquals(01777, lstat(dest.resolve("tmp")).permissions());
    assertTrue(lstat(dest.resolve("bin/[")).nlink() > 300, "busybox's hardlinks");
    assertEquals(2, r.layers().stream().mapToLong(l -> l.counts().whiteouts()).sum());
  }

  @RootTest
  void ggcrDockerSaveAppliesWhiteouts() throws IOException {
    Path dest = tmp.resolve("ggcr");
    ImageResult r = DEFAULT.unpack(TestData.file("images/ggcr-whiteout-docker-save.tar"), dest);
    assertEquals(4, r.layers().size());
    assertFalse(Files.exists(dest.resolve("foo")), "layer 4 whites out foo");
    assertTrue(Files.isRegularFile(dest.resolve("bin/getconf")));
    assertEquals(1, r.layers().get(3).counts().whiteouts());
  }

  @RootTest
  void ociTarWithAZstdLayer() throws IOException {
    Path dest = tmp.resolve("zstd");
    ImageResult r = DEFAULT.unpack(TestData.file("images/dive-test-oci-zstd-image.tar"), dest);
    assertEquals(ImageResult.OCI_LAYOUT, r.format());
    assertEquals("linux/arm64", r.platform().toString());
    assertEquals(Compression.ZSTD, r.layers().get(0).digests().compression());
    assertEquals(11189, Files.size(dest.resolve("README.md")));
    if (!Platform.current().matches(r.platform())) {
      assertTrue(r.warnings().get(0).contains("linux/arm64 only"), r.warnings().toString());
    }
    // Asked for by platform, it is chosen without a warning.
    ImageResult again =
        ImageUnpacker.builder()
            .platform(Platform.parse("linux/arm64"))
            .build()
            .unpack(TestData.file("images/dive-test-oci-zstd-image.tar"), tmp.resolve("zstd2"));
    assertEquals(List.of(), again.warnings());
  }

  @RootTest
  void ownersBeyondTheUsualRangeAsRoot() throws IOException {
    Path dest = tmp.resolve("uid");
    DEFAULT.unpack(TestData.file("images/ggcr-test-image-uid185992.tar"), dest);
    Stat foo = lstat(dest.resolve("foo"));
    assertEquals(185992, foo.uid());
    assertEquals(5000, foo.gid());
    assertEquals(185992, lstat(dest.resolve("foo/baz")).uid());
  }

  /**
   * A tampered copy of a real docker-save archive: one byte of layer 1's file data flipped (the tar
   * headers stay valid), so the layer applies but its diffID is wrong.
   */
  @RootTest
  void tamperedLayerFailsNamingItAndLeavesNoDest() throws IOException {
    Path original = TestData.file("images/ggcr-whiteout-docker-save.tar");
    String victim = "5692797104b543c372cbcdacbf4e2c8333d931cdd028c486941bf873865d1de5/layer.tar";
    Path tampered = tmp.resolve("tampered.tar");
    try (InputStream in = Files.newInputStream(original);
        TarArchiveInputStream tin = new TarArchiveInputStream(in);
        OutputStream out = Files.newOutputStream(tampered);
        TarArchiveOutputStream tout = new TarArchiveOutputStream(out)) {
      TarArchiveEntry e;
      while ((e = tin.getNextEntry()) != null) {
        byte[] data = tin.readAllBytes();
        if (e.getName().equals(victim)) {
          data[700_000] ^= 0x01; // inside the data of bin/[
        }
        tout.putArchiveEntry(e);
        tout.write(data);
        tout.closeArchiveEntry();
      }
    }
    Path parent = Files.createDirectory(tmp.resolve("out"));
    LayerApplyException ex =
        assertThrows(
            LayerApplyException.class, () -> DEFAULT.unpack(tampered, parent.resolve("dest")));
    String m = ex.getMessage();
    assertTrue(m.startsWith("layer 1/4 " + victim + ": diffID mismatch"), m);
    // The config's diff_id for layer 1 (the digest of the untampered tar).
    assertTrue(
        m.contains(
            "expected sha256:"
                + "0314be9edf00a925d59f9b88c9d8ccb34447ab677078874d8c14e7a6816e21e1"),
        m);
    assertTrue(m.contains("but the layer's bytes give sha256:"), m);
    try (Stream<Path> s = Files.list(parent)) {
      assertEquals(0, s.count(), "no DEST and no staging directory left");
    }
  }
}
