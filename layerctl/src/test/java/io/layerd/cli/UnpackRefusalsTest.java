package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code layerctl unpack} refuses before any work, and what it cleans up first (issue 14:
 * items 2, 4 and 9).
 */
class UnpackRefusalsTest {
  @TempDir Path tmp;

  private Path layer() throws IOException {
    Path l = tmp.resolve("layer.tar");
    Files.write(l, TarBuilder.create().file("etc/motd", "hello\n").build());
    return l;
  }

  private List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Issue 14, item 4: a malformed digest was reported as a mismatch after the whole apply. */
  @Test
  void aMalformedDigestIsRefusedBeforeAnyWork() throws IOException {
    // Not a tar at all: had the layer been read, the failure would be about its bytes (exit 1).
    Path junk = tmp.resolve("junk");
    Files.write(junk, new byte[4096]);
    Path dest = tmp.resolve("dest");
    for (String[] bad :
        List.of(
            new String[] {"--digest", "nonsense"},
            new String[] {"--digest", "md5:abc"},
            new String[] {"--diff-id", "sha256:zz"},
            new String[] {"--diff-id", "sha256:" + "a".repeat(63)})) {
      Cli.Run r = Cli.run("unpack", bad[0], bad[1], junk.toString(), dest.toString());
      assertEquals(2, r.code(), r.err());
      assertTrue(r.err().contains("'" + bad[1] + "' is not a sha256 digest"), r.err());
      assertTrue(r.err().contains("for layer " + junk), r.err());
      assertFalse(Files.exists(dest));
    }
    Cli.Run md5 = Cli.run("unpack", "--digest", "md5:abc", junk.toString(), dest.toString());
    assertTrue(md5.err().contains("layerd verifies only sha256"), md5.err());
    assertEquals(List.of("junk"), names(tmp), "nothing was staged");
  }

  /** Issue 14, item 9: a docker-save archive "unpacked" into its manifest.json and layer tars. */
  @Test
  void anImageArchiveIsRefusedWithTheImageUnpackHint() throws IOException {
    Path save = tmp.resolve("save.tar");
    Files.write(
        save, ImageFixtures.dockerSave(List.of(TarBuilder.create().file("a", "a").build())));
    Path oci = tmp.resolve("oci.tar");
    Files.write(
        oci, ImageFixtures.tar(ImageFixtures.ociMembers(List.of(TarBuilder.create().build()))));
    for (Path image :
        List.of(
            save,
            oci,
            TestData.file("images/dive-test-docker-image.tar"),
            TestData.file("images/dive-test-oci-zstd-image.tar"),
            TestData.file("images/ggcr-test-image-uid185992.tar"))) {
      Path dest = tmp.resolve("dest");
      Cli.Run r = Cli.run("unpack", image.toString(), dest.toString());
      assertEquals(2, r.code(), image + ": " + r.err());
      assertTrue(r.err().contains("not a layer: use 'layerctl image unpack " + image), r.err());
      assertFalse(Files.exists(dest));
    }
    Cli.Run kind = Cli.run("unpack", save.toString(), tmp.resolve("d").toString());
    assertTrue(kind.err().contains("is a docker-save archive"), kind.err());
    Cli.Run layout = Cli.run("unpack", oci.toString(), tmp.resolve("d").toString());
    assertTrue(layout.err().contains("is an OCI image layout archive"), layout.err());
    // A layer whose first entry is a top-level JSON file is still a layer.
    Path jsonFirst = tmp.resolve("json-first.tar");
    Files.write(jsonFirst, TarBuilder.create().file("config.json", "{}").build());
    Cli.run("unpack", jsonFirst.toString(), tmp.resolve("ok").toString()).ok();
    assertTrue(Files.exists(tmp.resolve("ok/config.json")));
  }

  /** Issue 14, item 9: an existing non-empty DEST was merged into silently. */
  @Test
  void aNonEmptyDestIsRefusedUnlessAskedFor() throws IOException {
    Path l = layer();
    Path dest = Files.createDirectories(tmp.resolve("dest"));
    Files.writeString(dest.resolve("mine"), "mine\n");
    Cli.Run r = Cli.run("unpack", l.toString(), dest.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains(dest + " exists and is not empty"), r.err());
    assertTrue(r.err().contains("--into-existing"), r.err());
    assertEquals(List.of("mine"), names(dest));

    Cli.run("unpack", "--into-existing", l.toString(), dest.toString()).ok();
    assertEquals(List.of("etc", "mine"), names(dest));

    Path empty = Files.createDirectories(tmp.resolve("empty"));
    Cli.run("unpack", l.toString(), empty.toString()).ok();
    assertEquals("hello\n", Files.readString(empty.resolve("etc/motd")));

    // The same rule for images.
    Path save = TestData.file("images/ggcr-whiteout-docker-save.tar");
    Cli.Run image = Cli.run("image", "unpack", save.toString(), dest.toString());
    assertEquals(2, image.code(), image.err());
    assertTrue(image.err().contains(dest + " exists and is not empty"), image.err());
    Cli.run("image", "unpack", "--into-existing", save.toString(), dest.toString()).ok();
  }

  /**
   * Issue 14, item 2: a killed run's staging directory stayed forever. A dead run's directory is
   * one whose lock nobody holds; a live run holds it on an open descriptor of the directory.
   */
  @Test
  void theNextRunRemovesStagingDirectoriesOfDeadRunsOnly() throws IOException {
    Path l = layer();
    Path dead1 = Files.createDirectories(tmp.resolve(".dest.layerd-staging-0123456789ab/etc"));
    Files.writeString(dead1.resolve("half"), "half");
    Files.createDirectories(tmp.resolve(".dest.layerd-staging-ba9876543210"));
    Path live = Files.createDirectories(tmp.resolve(".dest.layerd-staging-00000000live"));
    Path liveToo = Files.createDirectories(tmp.resolve(".dest.layerd-staging-aaaaaaaaaaaa"));
    Path other = Files.createDirectories(tmp.resolve(".other.layerd-staging-0123456789ab"));
    try (Fd held = Sys.openDirectory(liveToo.toString())) {
      assertTrue(Sys.tryFlockExclusive(held.get()));
      Cli.Run r = Cli.run("unpack", l.toString(), tmp.resolve("dest").toString()).ok();
      assertTrue(
          r.err()
              .contains(
                  "layerctl: removed .dest.layerd-staging-0123456789ab, the staging directory of"
                      + " an interrupted run"),
          r.err());
      assertTrue(r.err().contains("removed .dest.layerd-staging-ba9876543210"), r.err());
      assertFalse(r.err().contains("aaaaaaaaaaaa"), r.err());
    }
    assertTrue(Files.exists(liveToo), "a live run's staging directory is never removed");
    assertTrue(Files.exists(live), "a name layerctl does not make is left alone");
    assertTrue(Files.exists(other), "another DEST's staging is left alone");
    assertEquals(
        List.of(
            ".dest.layerd-staging-00000000live",
            ".dest.layerd-staging-aaaaaaaaaaaa",
            ".other.layerd-staging-0123456789ab",
            "dest",
            "layer.tar"),
        names(tmp));
  }
}
