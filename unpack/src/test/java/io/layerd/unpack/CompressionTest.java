package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Compression recognised by its magic bytes; every member or frame read; the digest and size of the
 * layer as given and the diffID and size of the tar computed while streaming, the diffID covering
 * bytes after the end-of-archive blocks.
 */
class CompressionTest {
  @TempDir Path root;

  /** A layer big enough to span several gzip members and zstd blocks, with trailing data. */
  static TarBuilder layer() {
    return TarBuilder.create()
        .dir("d/")
        .file("d/big", 700_000)
        .file("d/small", "small")
        .symlink("d/link", "small")
        .trailingData(
            "trailing bytes after the end-of-archive blocks".getBytes(StandardCharsets.UTF_8));
  }

  record Form(String name, Compression expected, Function<TarBuilder, byte[]> encode) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Form> forms() {
    return Stream.of(
        new Form("none", Compression.NONE, TarBuilder::build),
        new Form("gzip", Compression.GZIP, TarBuilder::gzip),
        new Form("gzip, two members", Compression.GZIP, TarBuilder::gzipMultiMember),
        new Form("zstd", Compression.ZSTD, TarBuilder::zstd),
        new Form(
            "zstd after a skippable frame", Compression.ZSTD, TarBuilder::zstdWithSkippableFrame),
        new Form("xz", Compression.XZ, TarBuilder::xz),
        new Form("bzip2", Compression.BZIP2, TarBuilder::bzip2));
  }

  static String sha256(byte[] b) {
    return "sha256:" + HostSnapshot.sha256(b);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("forms")
  void eachFormIsReadWholeWithItsDigests(Form form) throws IOException {
    byte[] tar = layer().build();
    byte[] blob = form.encode().apply(layer());
    ApplyResult r =
        LayerApplier.builder()
            .build()
            .apply(
                "l",
                new ByteArrayInputStream(blob),
                root,
                new LayerApplier.Expect(
                    sha256(blob), sha256(tar).toUpperCase(java.util.Locale.ROOT)));
    assertEquals(form.expected(), r.digests().compression());
    assertEquals(sha256(blob), r.digests().digest());
    assertEquals(blob.length, r.digests().compressedSize());
    assertEquals(sha256(tar), r.digests().diffId(), "the diffID must cover the trailing data too");
    assertEquals(tar.length, r.digests().uncompressedSize());
    assertEquals(4, r.counts().entries());
    byte[] big = Files.readAllBytes(root.resolve("d/big"));
    assertEquals(700_000, big.length);
    assertTrue(java.util.Arrays.equals(TarBuilder.generatedContent(700_000), big));
    assertEquals("small", Files.readString(root.resolve("d/small")));
  }

  /** The caller keeps its stream: layers may be read one after another from one outer stream. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("forms")
  void theCallersStreamIsLeftOpen(Form form) throws IOException {
    boolean[] closed = {false};
    java.io.InputStream source =
        new java.io.FilterInputStream(new ByteArrayInputStream(form.encode().apply(layer()))) {
          @Override
          public void close() throws IOException {
            closed[0] = true;
            super.close();
          }
        };
    LayerApplier.builder().build().apply("l", source, root, LayerApplier.Expect.NOTHING);
    assertTrue(!closed[0], "the applier closed the caller's stream");
  }

  @Test
  void theMagicDecidesNotAName() {
    assertEquals(Compression.GZIP, Compression.detect(new byte[] {0x1f, (byte) 0x8b, 8}, 3));
    assertEquals(
        Compression.ZSTD, Compression.detect(new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}, 4));
    assertEquals(Compression.ZSTD, Compression.detect(new byte[] {0x5e, 0x2a, 0x4d, 0x18}, 4));
    assertEquals(
        Compression.XZ, Compression.detect(new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0}, 6));
    assertEquals(Compression.BZIP2, Compression.detect(new byte[] {'B', 'Z', 'h', '9'}, 4));
    assertEquals(Compression.NONE, Compression.detect(new byte[] {0x1f}, 1));
    assertEquals(Compression.NONE, Compression.detect(new byte[] {'B', 'Z'}, 2));
    assertEquals(
        Compression.NONE, Compression.detect("etc/passwd".getBytes(StandardCharsets.UTF_8), 6));
  }

  @Test
  void anEmptyLayerHasTheWellKnownDiffId() throws IOException {
    // The empty layer: 1024 zero bytes, whose digest every registry knows.
    byte[] empty = TarBuilder.create().build();
    ApplyResult r = apply(LayerApplier.builder().build(), root, "empty", empty);
    assertEquals(
        "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
        r.digests().diffId());
    assertEquals(0, r.counts().entries());
  }

  /**
   * 68 bytes of xz ({@code xz --lzma2=dict=1536MiB} of ten zero bytes) made the decoder allocate a
   * 1.5 GiB dictionary (OutOfMemoryError). Found while checking what the fuzz tests cannot reach
   * (the block header's CRC32 guards the dictionary size); kept in their inputs too. Refused before
   * any allocation, with the figures.
   */
  @Test
  void anXzStreamAskingForAHugeDictionaryIsRefused() throws IOException {
    byte[] layer;
    try (var in =
        CompressionTest.class.getResourceAsStream(
            "CompressionFuzzTestInputs/detectAndDecompress/xz-dictionary-1536MiB")) {
      layer = in.readAllBytes();
    }
    assertEquals(Compression.XZ, Compression.detect(layer, layer.length));
    LayerApplyException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            LayerApplyException.class,
            () -> apply(LayerApplier.builder().build(), root, "bigdict", layer));
    assertTrue(
        e.getMessage().contains("needs 1536 MiB of memory")
            && e.getMessage().contains("over the 256 MiB layerd allows"),
        e.getMessage());
  }
}
