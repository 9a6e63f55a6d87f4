package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.IsalDeflater;
import io.layerd.testkit.Require;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The differ's gzip: one member any gzip reader reads, the same bytes for any thread count. */
class ParallelGzipOutputStreamTest {
  private static final int BLOCK = ParallelGzipOutputStream.BLOCK;

  /** A random pattern of {@code period} bytes, repeated: compressible only across blocks. */
  private static byte[] repeating(int size, int period) {
    byte[] pattern = new byte[period];
    new Random(period).nextBytes(pattern);
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = pattern[i % period];
    }
    return b;
  }

  /** ISA-L where it is there (CI installs it), and always java.util.zip. */
  static Stream<Boolean> backends() {
    return IsalDeflater.available() ? Stream.of(true, false) : Stream.of(false);
  }

  @Test
  void isalIsThereWhereTheMachineHasIt() {
    Require.that(
        IsalDeflater.available(), "ISA-L is not used: " + IsalDeflater.unavailableReason());
  }

  private static byte[] parallel(boolean isal, byte[] data, int threads, int chunk)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(
            bytes,
            isal,
            isal ? DiffCompression.ISAL_LEVEL : Deflater.DEFAULT_COMPRESSION,
            threads)) {
      for (int off = 0; off < data.length; off += chunk) {
        gz.write(data, off, Math.min(chunk, data.length - off));
      }
    }
    return bytes.toByteArray();
  }

  private static byte[] gunzip(byte[] gz) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  static Stream<Arguments> sizes() {
    return backends()
        .flatMap(
            isal ->
                IntStream.of(0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 17)
                    .mapToObj(size -> Arguments.of(isal, size)));
  }

  @ParameterizedTest(name = "isal {0}, {1} bytes")
  @MethodSource("sizes")
  void gunzipGivesTheInputBackWhateverItsLengthAndTheThreads(boolean isal, int size)
      throws IOException {
    byte[] data = repeating(size, 5000);
    byte[] one = parallel(isal, data, 1, 7000);
    assertArrayEquals(data, gunzip(one));
    // Other writes' sizes and thread counts give the same bytes.
    assertArrayEquals(one, parallel(isal, data, 3, 1 << 16));
    assertArrayEquals(one, parallel(isal, data, 2, 1));
  }

  @ParameterizedTest(name = "isal {0}")
  @MethodSource("backends")
  void eachBlockRefersBackToThePreviousOneAsOneStreamWould(boolean isal) throws IOException {
    // 20 KiB of random bytes, repeated: a block deflated alone would hold the pattern once more.
    byte[] data = repeating(16 * BLOCK, 20 * 1024);
    ByteArrayOutputStream single = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(single)) {
      gz.write(data);
    }
    byte[] ours = parallel(isal, data, 2, 1 << 16);
    assertArrayEquals(data, gunzip(ours));
    assertTrue(
        ours.length < single.size() + 16 * 1024,
        ours.length + " bytes, one deflate stream " + single.size());
  }

  @ParameterizedTest(name = "isal {0}")
  @MethodSource("backends")
  void aWriteAfterCloseFails(boolean isal) throws IOException {
    ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(
            new ByteArrayOutputStream(), isal, isal ? 1 : Deflater.BEST_SPEED, 2);
    gz.close();
    assertThrows(IOException.class, () -> gz.write(1));
  }
}
