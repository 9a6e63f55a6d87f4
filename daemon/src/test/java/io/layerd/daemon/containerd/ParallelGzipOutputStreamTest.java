package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

  private static byte[] parallel(byte[] data, int threads, int chunk) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(bytes, Deflater.DEFAULT_COMPRESSION, threads)) {
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

  @ParameterizedTest
  @ValueSource(ints = {0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 17})
  void gunzipGivesTheInputBackWhateverItsLengthAndTheThreads(int size) throws IOException {
    byte[] data = repeating(size, 5000);
    byte[] one = parallel(data, 1, 7000);
    assertArrayEquals(data, gunzip(one));
    // Other writes' sizes and thread counts give the same bytes.
    assertArrayEquals(one, parallel(data, 3, 1 << 16));
    assertArrayEquals(one, parallel(data, 2, 1));
  }

  @Test
  void eachBlockRefersBackToThePreviousOneAsOneStreamWould() throws IOException {
    // 20 KiB of random bytes, repeated: a block deflated alone would hold the pattern once more.
    byte[] data = repeating(16 * BLOCK, 20 * 1024);
    ByteArrayOutputStream single = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(single)) {
      gz.write(data);
    }
    byte[] ours = parallel(data, 2, 1 << 16);
    assertArrayEquals(data, gunzip(ours));
    assertTrue(
        ours.length < single.size() + 16 * 1024,
        ours.length + " bytes, one deflate stream " + single.size());
  }

  @Test
  void aWriteAfterCloseFails() throws IOException {
    ParallelGzipOutputStream gz =
        new ParallelGzipOutputStream(new ByteArrayOutputStream(), Deflater.BEST_SPEED, 2);
    gz.close();
    assertThrows(IOException.class, () -> gz.write(1));
  }
}
