package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.testkit.TestData;
import io.layerd.testkit.TreeManifest;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.LayerStream;
import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The steps of Docker 28 with the containerd image store beyond {@link DockerScenario}'s: {@code
 * docker load} of testdata's archives (docker-save and OCI, gzip and zstd layers, whiteouts), each
 * image's tree through {@code docker create} and {@code export}; {@code docker build} with BuildKit
 * (FROM busybox, RUN, COPY, an {@code rm} that must become a whiteout); {@code docker save} of the
 * build and loading it back; {@code docker system df}; {@code docker rmi} of everything and a prune
 * of BuildKit's cache. What they show is compared with Docker's built-in overlayfs.
 */
final class ContainerdDockerScenario {
  private ContainerdDockerScenario() {}

  static final String BUSYBOX = "docker.io/library/busybox:1.38.0-glibc";
  static final String ZSTD = "docker.io/library/dive-test-zstd:latest";
  static final String BUILT = "docker.io/library/layerd-built:latest";

  /** The Dockerfile: its first RUN removes /bin/vi, which the layer must hold as a whiteout. */
  static final String DOCKERFILE =
      String.join(
          "\n",
          "FROM " + BUSYBOX,
          "RUN echo built > /built.txt && rm /bin/vi && mkdir -p /made/deep",
          "COPY copied.txt /made/copied.txt",
          "RUN chmod 0600 /made/copied.txt",
          "");

  /**
   * What the steps showed.
   *
   * @param trees each image's exported tree, by name (the build's also after save and load)
   * @param imagesSize {@code docker system df}'s size of the images (all loaded and built)
   */
  record Outcome(Map<String, TreeManifest> trees, String imagesSize) {}

  static Outcome run(DockerHost h, Path work) throws IOException {
    Files.createDirectories(work);
    Map<String, Path> archives = new LinkedHashMap<>();
    archives.put("docker.io/library/whiteout:latest", copy(h, "ggcr-whiteout-docker-save.tar"));
    archives.put("docker.io/library/dive-test:latest", copy(h, "dive-test-docker-image.tar"));
    Path busybox = h.inputs().resolve("busybox-oci.tar");
    OciArchive.named(TestData.file("images/busybox-1.38.0-glibc-oci"), BUSYBOX, busybox);
    archives.put(BUSYBOX, busybox);
    Path zstd = h.inputs().resolve("zstd-oci.tar");
    OciArchive.named(TestData.file("images/dive-test-oci-zstd-image.tar"), ZSTD, zstd);
    archives.put(ZSTD, zstd);

    Map<String, TreeManifest> trees = new LinkedHashMap<>();
    for (Map.Entry<String, Path> a : archives.entrySet()) {
      List<String> load = new ArrayList<>(List.of("load", "-i", a.getValue().toString()));
      if (a.getKey().equals(ZSTD)) {
        load.addAll(1, List.of("--platform", "linux/arm64")); // the archive's only platform
      }
      h.docker(load.toArray(String[]::new)).ok();
      trees.put(a.getKey(), tree(h, a.getKey(), work, Set.of()));
    }

    // docker build with BuildKit
    Path ctx = work.resolve("ctx");
    Files.createDirectories(ctx);
    Files.writeString(ctx.resolve("Dockerfile"), DOCKERFILE);
    Path copied = ctx.resolve("copied.txt");
    Files.writeString(copied, "copied into the image\n");
    Files.setLastModifiedTime(copied, FileTime.fromMillis(1_715_000_000_000L));
    h.docker("build", "--network", "none", "-t", BUILT, ctx.toString()).ok();
    Set<String> built = Set.of("built.txt");
    trees.put(BUILT, tree(h, BUILT, work, built));

    // docker save, then load it back
    Path saved = work.resolve("built.tar");
    h.dockerTo(saved, "save", BUILT).ok();
    assertTrue(
        layerNames(saved).contains("bin/.wh.vi"),
        h.describe() + ": RUN's rm /bin/vi is a whiteout in the saved layer");
    h.docker("rmi", BUILT).ok();
    h.docker("load", "-i", saved.toString()).ok();
    trees.put(BUILT + " (saved and loaded)", tree(h, BUILT, work, built));

    String size = imagesSize(h);
    for (String image : List.of(BUILT, BUSYBOX, ZSTD)) {
      h.docker("rmi", image).ok();
    }
    h.docker("rmi", "docker.io/library/whiteout:latest", "docker.io/library/dive-test:latest").ok();
    h.docker("builder", "prune", "-af").ok();
    assertEquals("", h.docker("images", "-aq").ok().stdout().strip(), "no images are left");
    return new Outcome(trees, size);
  }

  private static Path copy(DockerHost h, String testdata) throws IOException {
    Path to = h.inputs().resolve(testdata);
    Files.copy(TestData.file("images/" + testdata), to);
    return to;
  }

  /** The image's tree: {@code docker create} (no run), {@code docker export}, {@code docker rm}. */
  private static TreeManifest tree(DockerHost h, String image, Path work, Set<String> changed)
      throws IOException {
    String name = "t" + Integer.toHexString(image.hashCode() & 0xfffffff) + "-" + System.nanoTime();
    List<String> create = new ArrayList<>(List.of("create", "--name", name));
    if (image.equals(ZSTD)) {
      create.addAll(List.of("--platform", "linux/arm64"));
    }
    create.addAll(List.of("--network", "none", image, "true"));
    h.docker(create.toArray(String[]::new)).ok();
    try {
      return DockerScenario.export(h, name, work.resolve(name), changed);
    } finally {
      h.docker("rm", name).ok();
    }
  }

  /** The names of every layer's entries in a {@code docker save} archive. */
  private static Set<String> layerNames(Path saved) throws IOException {
    Set<String> out = new java.util.TreeSet<>();
    try (InputStream in = Files.newInputStream(saved)) {
      TarReader r = new TarReader(in);
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        if (e.type() != TarEntry.Type.FILE || !e.displayName().startsWith("blobs/")) {
          continue;
        }
        InputStream layer = LayerStream.open(r.content()).tar();
        try {
          TarReader lr = new TarReader(layer);
          for (TarEntry le = lr.next(); le != null; le = lr.next()) {
            out.add(le.displayName().replaceFirst("^\\./", ""));
          }
        } catch (IOException notATar) {
          // a manifest or config blob
        }
        layer.transferTo(java.io.OutputStream.nullOutputStream());
      }
    }
    return out;
  }

  /** {@code docker system df}'s line for images: its size. */
  private static String imagesSize(DockerHost h) throws IOException {
    ObjectMapper json = new ObjectMapper();
    String out = h.docker("system", "df", "--format", "{{json .}}").ok().stdout();
    for (String line : out.strip().split("\n")) {
      JsonNode n = json.readTree(line);
      if (n.path("Type").asText().equals("Images")) {
        return n.path("Size").asText() + " in " + n.path("TotalCount").asText() + " images";
      }
    }
    throw new AssertionError("docker system df shows no images line: " + out);
  }

  /** The same trees as the reference's; the same images size when {@code sameSize}. */
  static void assertSame(DockerHost h, Outcome ref, Outcome o, boolean sameSize) {
    assertEquals(ref.trees().keySet(), o.trees().keySet());
    for (String image : ref.trees().keySet()) {
      try {
        TreeManifest.assertSame(ref.trees().get(image), o.trees().get(image));
      } catch (AssertionError e) {
        throw new AssertionError(
            h.describe()
                + ": the tree of "
                + image
                + " differs from overlayfs's:\n"
                + e.getMessage(),
            e);
      }
    }
    System.out.printf(
        "%s: %d image trees equal overlayfs's; docker system df: %s (overlayfs: %s)%n",
        h.describe(), o.trees().size(), o.imagesSize(), ref.imagesSize());
    if (sameSize) {
      assertEquals(ref.imagesSize(), o.imagesSize(), h.describe() + ": docker system df's images");
    }
  }
}
