package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.IsalDeflater;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestData;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code --diff-compression}: which codec writes the differ's layers, and what {@code small}
 * promises: layers no larger than containerd's walking differ's.
 */
class DiffCompressionTest {
  /** testdata's BusyBox layer (a real tree: ELF binaries, 410 hardlinks). */
  private static final String BUSYBOX_LAYER =
      "images/busybox-1.38.0-glibc-oci/blobs/sha256/"
          + "b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3";

  /** Its diffID (the image config's rootfs.diff_ids): the tar the reference below was made of. */
  private static final String BUSYBOX_DIFF_ID =
      "sha256:0958e0fef2d6a31e1325b8bfecd99dead933363682d69850a7606599023751bc";

  /**
   * What containerd's walking differ makes of that tar: Go's compress/gzip at its default level 6
   * (Go 1.19.8; {@code go run benchmarks/go-gzip-size/main.go TAR} reproduces it).
   */
  private static final long GO_GZIP_LEVEL_6 = 2_295_293;

  private static byte[] tar;

  @BeforeAll
  static void busyboxTar() throws Exception {
    try (InputStream in =
        new GZIPInputStream(Files.newInputStream(TestData.file(BUSYBOX_LAYER)), 1 << 16)) {
      tar = in.readAllBytes();
    }
    assertEquals(
        BUSYBOX_DIFF_ID,
        "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(tar)));
  }

  private static byte[] compress(DiffCompression.Codec codec, byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = DiffCompression.compressor(codec, bytes)) {
      out.write(data);
    }
    return bytes.toByteArray();
  }

  private static byte[] gunzip(byte[] gz) throws IOException {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  @Test
  void smallIsNoLargerThanContainerdsGzip() throws IOException {
    DiffCompression.Codec small = DiffCompression.SMALL.codec(DiffService.OCI_LAYER_GZIP);
    assertEquals(
        "gzip by java.util.zip level " + DiffCompression.ZLIB_LEVEL,
        small.toString(),
        "with or without ISA-L");
    byte[] gz = compress(small, tar);
    assertArrayEquals(tar, gunzip(gz));
    assertTrue(
        gz.length <= GO_GZIP_LEVEL_6,
        "small: " + gz.length + " bytes, containerd's (Go's level 6): " + GO_GZIP_LEVEL_6);
  }

  @Test
  void fastIsIsalsDeflateWhereLibisalIsInstalled() throws IOException {
    Require.that(
        IsalDeflater.available(), "ISA-L is not used: " + IsalDeflater.unavailableReason());
    DiffCompression.Codec fast = DiffCompression.FAST.codec(DiffService.OCI_LAYER_GZIP);
    assertEquals("gzip by ISA-L level " + DiffCompression.ISAL_LEVEL, fast.toString());
    byte[] gz = compress(fast, tar);
    assertArrayEquals(tar, gunzip(gz));
    // ISA-L's bytes, not java.util.zip's: the same stream with ISA-L at its level, one thread.
    ByteArrayOutputStream isal = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream out =
        new ParallelGzipOutputStream(isal, true, DiffCompression.ISAL_LEVEL, 1)) {
      out.write(tar);
    }
    assertArrayEquals(isal.toByteArray(), gz);
    assertFalse(
        java.util.Arrays.equals(gz, compress(DiffCompression.SMALL.gzip(true), tar)),
        "fast and small differ");
  }

  @Test
  void withoutIsalFastIsSmall() {
    assertEquals(DiffCompression.SMALL.gzip(false), DiffCompression.FAST.gzip(false));
    assertFalse(DiffCompression.FAST.gzip(false).isal());
    assertTrue(DiffCompression.FAST.gzip(true).isal());
    assertEquals(DiffCompression.SMALL.gzip(false), DiffCompression.SMALL.gzip(true));
  }

  @Test
  void zstdAndPlainTarAreTheSameUnderBothSettings() throws IOException {
    for (DiffCompression c : DiffCompression.values()) {
      assertEquals("zstd by zstd-jni level 3", c.codec(DiffService.OCI_LAYER_ZSTD).toString());
      assertEquals("uncompressed", c.codec(DiffService.OCI_LAYER).toString());
    }
    byte[] plain = compress(DiffCompression.FAST.codec(DiffService.OCI_LAYER), tar);
    assertArrayEquals(tar, plain);
  }

  @Test
  void onlyFastAndSmallAreValuesAndARefusalNamesThem() {
    assertEquals(DiffCompression.FAST, DiffCompression.parse("fast", "--diff-compression"));
    assertEquals(DiffCompression.SMALL, DiffCompression.parse("small", "--diff-compression"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> DiffCompression.parse("best", "--diff-compression"));
    assertTrue(
        e.getMessage().startsWith("--diff-compression: \"best\" is not fast or small"),
        e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> DiffCompression.parse("FAST", "--diff-compression"));
  }
}
