package io.layerd.example;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.idmap.UnmappedIdPolicy;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestData;
import io.layerd.unpack.IdOwners;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.image.ImageReader;
import io.layerd.unpack.image.ImageResult;
import io.layerd.unpack.image.ImageUnpacker;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's "Using the library", compiled and run: the code between the markers is the README's
 * example, line for line (checked below), in a package of its own so that it sees only the public
 * API, and using only the API packages (those the modules' module-info files export).
 */
class LibraryExampleTest {
  @TempDir Path tmp;

  @RootTest // the layers hold files of several owners
  void theReadmeExampleRuns() throws IOException {
    Path image = TestData.file("images/busybox-1.38.0-glibc-oci");
    Path layer = TestData.file("layers/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    Path rootfs = tmp.resolve("rootfs");
    Path alpine = Files.createDirectories(tmp.resolve("alpine"));
    List<String> lines = new ArrayList<>();

    // README example begins
    // An image (OCI layout or docker-save, a directory or a tar) into a new directory:
    ImageResult result = ImageUnpacker.builder().build().unpack(image, rootfs);

    // One layer (plain, gzip, zstd, xz or bzip2) onto a directory, its digests checked if given,
    // owners through this process's id mapping (one outside it fails, an UnmappedIdException):
    LayerApplier applier =
        LayerApplier.builder().owners(IdOwners.forCurrentProcess(UnmappedIdPolicy.FAIL)).build();
    try (InputStream in = Files.newInputStream(layer)) {
      applier.apply(layer.toString(), in, alpine, LayerApplier.Expect.NOTHING);
    }

    // What a layer or an image holds, without writing anything:
    try (ImageReader reader = ImageReader.open(image, null, null)) {
      reader.forEachEntry((name, e) -> lines.add(e.displayName() + " " + e.uid() + ":" + e.gid()));
    }
    // README example ends

    assertEquals(ImageResult.OCI_LAYOUT, result.format());
    assertTrue(Files.isRegularFile(rootfs.resolve("bin/busybox")), "busybox unpacked");
    assertTrue(Files.isRegularFile(alpine.resolve("etc/alpine-release")), "alpine applied");
    assertTrue(
        lines.stream().anyMatch(l -> l.matches("(\\./)?home/? 65534:65534")), "home's owner");
  }

  /** The README shows the example above unchanged. */
  @org.junit.jupiter.api.Test
  void theReadmeShowsThisExample() throws IOException {
    String source =
        Files.readString(
            TestData.root()
                .resolve("unpack/src/test/java/io/layerd/example/LibraryExampleTest.java"),
            StandardCharsets.UTF_8);
    String example =
        source.substring(
            source.indexOf("// README example begins\n") + "// README example begins\n".length(),
            source.indexOf("    // README example ends"));
    String readme = Files.readString(TestData.root().resolve("README.md"), StandardCharsets.UTF_8);
    for (String line : example.split("\n")) {
      assertTrue(readme.contains(line.strip()), "README lacks: " + line.strip());
    }
  }
}
