package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TestData;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The docker steps that Docker 28 with the containerd image store adds to {@link DockerScenario}:
 * {@code docker load} of the real archives in testdata (an OCI layout with gzip layers, an OCI
 * archive with a zstd layer, a docker-save archive with a whiteout), a {@code docker build} with
 * BuildKit (FROM the loaded BusyBox, RUN, COPY, and an {@code rm} that must become a whiteout),
 * {@code docker system df}, then {@code rmi} of everything and the build cache. What they show is
 * returned, to be compared with what Docker's built-in overlayfs snapshotter shows.
 */
final class ImageStoreScenario {
  private ImageStoreScenario() {}

  static final String BUSYBOX = "docker.io/library/busybox:1.38.0-glibc";
  static final String WHITEOUT = "docker.io/library/whiteout:latest";

  /** An arm64 image (its index names nothing): created as a container, never run. */
  static final String ZSTD = "docker.io/library/dive-test-zstd:latest";

  static final String BUILT = "docker.io/library/layerd-e2e-built:1";

  static final String DOCKERFILE =
      String.join(
          "\n",
          "FROM " + BUSYBOX,
          "RUN mkdir /made && echo made > /made/f",
          "COPY hello.txt /hello.txt",
          "RUN rm /bin/vi",
          "");

  /** Paths the build makes or changes, whose times are the build's. */
  private static final Set<String> BUILT_PATHS = Set.of("made", "made/f", "hello.txt", "bin");

  /** What the steps showed: each image's exported tree, the built image's run, system df. */
  record Outcome(Map<String, TreeManifest> trees, String builtRun, String systemDfImages) {}

  static Outcome run(DockerHost h, Path work) throws IOException {
    Files.createDirectories(work);
    Path in = h.inputs();
    Path busybox = in.resolve("busybox-oci.tar");
    OciArchive.named(TestData.file("images/busybox-1.38.0-glibc-oci"), BUSYBOX, busybox);
    Path zstd = in.resolve("zstd-oci.tar");
    OciArchive.named(TestData.file("images/dive-test-oci-zstd-image.tar"), ZSTD, zstd);
    Path whiteout = in.resolve("whiteout.tar");
    Files.copy(TestData.file("images/ggcr-whiteout-docker-save.tar"), whiteout);
    Path context = Files.createDirectories(in.resolve("context"));
    Files.writeString(context.resolve("Dockerfile"), DOCKERFILE);
    Path hello = context.resolve("hello.txt");
    Files.writeString(hello, "hello from the build context\n");
    Files.setLastModifiedTime(hello, FileTime.fromMillis(1_715_000_000_000L));
    // The CLI of a rootless suite runs as the test user: it reads these.
    for (Path p : List.of(busybox, zstd, whiteout, context.resolve("Dockerfile"), hello)) {
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
    }
    Files.setPosixFilePermissions(context, PosixFilePermissions.fromString("rwxr-xr-x"));

    h.docker("load", "-i", busybox.toString()).ok();
    h.docker("load", "-i", whiteout.toString()).ok();
    h.docker("load", "--platform", "linux/arm64", "-i", zstd.toString()).ok();
    h.docker("build", "--progress", "plain", "--network", "none", "-t", BUILT, context.toString())
        .ok();
    String builtRun =
        h.docker(
                "run",
                "--rm",
                "--network",
                "none",
                BUILT,
                "sh",
                "-c",
                "cat /hello.txt /made/f; ls /bin/vi 2>&1 || true")
            .ok()
            .stdout();
    assertEquals(
        "hello from the build context\nmade\nls: /bin/vi: No such file or directory\n",
        builtRun,
        h.describe() + ": the built image has what its Dockerfile made, and no /bin/vi");

    Map<String, TreeManifest> trees = new LinkedHashMap<>();
    int n = 0;
    for (String image : List.of(BUSYBOX, WHITEOUT, ZSTD, BUILT)) {
      String container = "e" + n++;
      if (image.equals(ZSTD)) {
        h.docker("create", "--platform", "linux/arm64", "--name", container, image, "true").ok();
      } else {
        h.docker("create", "--name", container, "--network", "none", image, "true").ok();
      }
      trees.put(
          image,
          DockerScenario.export(
              h, container, work.resolve(container), image.equals(BUILT) ? BUILT_PATHS : Set.of()));
      h.docker("rm", container).ok();
    }
    assertTrue(
        trees.get(WHITEOUT).entries().stream().noneMatch(e -> e.path().startsWith("foo")),
        h.describe() + ": the whiteout image's /foo is gone");

    String df =
        h.docker("system", "df", "--format", "{{.Type}} {{.TotalCount}}").ok().stdout().strip();
    String images = df.lines().filter(l -> l.startsWith("Images ")).findFirst().orElse(df);

    h.docker("rmi", BUSYBOX, WHITEOUT, ZSTD, BUILT).ok();
    h.docker("builder", "prune", "-af").ok();
    assertEquals("", h.docker("images", "-q").ok().stdout().strip(), "no images are left");
    return new Outcome(trees, builtRun, images);
  }
}
