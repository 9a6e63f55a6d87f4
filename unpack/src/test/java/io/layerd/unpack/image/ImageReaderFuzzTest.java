package io.layerd.unpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import io.layerd.testkit.TestFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzing the image readers: an OCI layout whose {@code index.json}, or a docker-save directory
 * whose {@code manifest.json}, is the fuzzer's (the first byte chooses which), over real blobs of a
 * small image. Unpacking either succeeds or fails with an {@link IOException} that has a message
 * (an {@link ImageException}, or a layer's failure); a failure leaves no destination and no staging
 * directory.
 */
class ImageReaderFuzzTest {
  private static Path work;
  private static Path oci;
  private static Path save;

  /** The two images, made once per JVM; only their index.json or manifest.json changes. */
  private static synchronized void images() {
    if (work != null) {
      return;
    }
    try {
      work = TestFiles.scratchDirectory("imgfuzz");
      Path made = work;
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      TestFiles.deleteTree(made);
                    } catch (IOException e) {
                      // the JVM is ending; /tmp keeps it
                    }
                  }));
      oci = work.resolve("oci");
      TestImages.Layout l = new TestImages.Layout(oci);
      l.add(
          l.image(
              "linux/amd64",
              TarBuilder.create().dir("etc").file("etc/a", "1").build(),
              TarBuilder.create().whiteout("etc/a").file("etc/b", "2").build()),
          "latest");
      l.write();
      save = work.resolve("save");
      Files.createDirectories(save.resolve("blobs/sha256"));
      byte[] layer = TarBuilder.create().dir("etc").file("etc/c", "3").build();
      String dl = TestImages.sha256(layer);
      byte[] config = TestImages.config("linux", "amd64", null, List.of(dl));
      String dc = TestImages.sha256(config);
      Files.write(save.resolve("blobs/sha256/" + dl.substring(7)), layer);
      Files.write(save.resolve("blobs/sha256/" + dc.substring(7)), config);
      ObjectNode entry = TestImages.object();
      entry.put("Config", "blobs/sha256/" + dc.substring(7));
      entry.putArray("RepoTags").add("x:1");
      entry.putArray("Layers").add("blobs/sha256/" + dl.substring(7));
      ArrayNode manifest = TestImages.object().arrayNode().add(entry);
      Files.write(save.resolve("manifest.json"), TestImages.json(manifest));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Stream<byte[]> seeds() throws IOException {
    images();
    List<byte[]> out = new ArrayList<>();
    out.add(tagged(0, Files.readAllBytes(oci.resolve("index.json"))));
    out.add(tagged(1, Files.readAllBytes(save.resolve("manifest.json"))));
    out.add(
        tagged(0, Files.readAllBytes(TestData.file("images/busybox-1.38.0-glibc-oci/index.json"))));
    out.add(tagged(0, "{\"schemaVersion\":2,\"manifests\":[]}".getBytes(StandardCharsets.UTF_8)));
    out.add(
        tagged(
            1,
            "[{\"Config\":\"../../etc/passwd\",\"Layers\":[\"/\"]}]"
                .getBytes(StandardCharsets.UTF_8)));
    return out.stream();
  }

  private static byte[] tagged(int format, byte[] json) {
    byte[] b = new byte[json.length + 1];
    b[0] = (byte) format;
    System.arraycopy(json, 0, b, 1, json.length);
    return b;
  }

  @MethodSource("seeds")
  @FuzzTest
  void unpackWithFuzzedIndex(byte[] data) throws IOException {
    if (data.length == 0) {
      return;
    }
    images();
    boolean isOci = (data[0] & 1) == 0;
    Path image = isOci ? oci : save;
    Files.write(
        image.resolve(isOci ? "index.json" : "manifest.json"),
        Arrays.copyOfRange(data, 1, data.length));
    Path out = work.resolve("out");
    Files.createDirectories(out);
    Path dest = out.resolve("dest");
    try {
      ImageUnpacker.builder().build().unpack(image, dest);
      TestFiles.deleteTree(dest);
    } catch (IOException e) {
      assertNotNull(e.getMessage(), "a failure without a message: " + e.getClass());
    }
    try (Stream<Path> left = Files.list(out)) {
      assertEquals(List.of(), left.toList(), "left behind by an unpack");
    }
  }
}
