package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.layerd.unpack.internal.LayerStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzing compression detection, the decompressors and the digests ({@link LayerStream}): any bytes
 * are detected as one compression and decompress to a stream whose sizes and digests add up, or
 * fail with an {@link IOException} that says what failed (a decompressor's own failures, such as a
 * bare {@code EOFException}, are said plainly with the format and the offset).
 */
class CompressionFuzzTest {
  /** Decompressed output read per input at most: a bomb is legal here, the applier streams. */
  private static final long MAX_OUTPUT = 16L << 20;

  static Stream<byte[]> seeds() {
    return Stream.concat(FuzzSeeds.layers().stream(), FuzzSeeds.noise().stream());
  }

  @MethodSource("seeds")
  @FuzzTest
  void detectAndDecompress(byte[] data) throws IOException {
    try (LayerStream s = LayerStream.open(new ByteArrayInputStream(data))) {
      assertNotNull(s.compression());
      InputStream tar = s.tar();
      byte[] buf = new byte[65536];
      long total = 0;
      for (int n; total <= MAX_OUTPUT && (n = tar.read(buf)) >= 0; ) {
        total += n;
      }
      if (total > MAX_OUTPUT) {
        return;
      }
      ApplyResult.Digests d = s.finish();
      assertEquals(data.length, d.compressedSize(), "every byte of the layer is digested");
      assertEquals(total, d.uncompressedSize());
      if (d.compression() == Compression.NONE) {
        assertEquals(d.digest(), d.diffId(), "an uncompressed layer's digest is its diffID");
      }
    } catch (IOException e) {
      assertNotNull(e.getMessage(), "a failure without a message: " + e);
      assertTrue(!e.getMessage().isBlank(), "a failure with a blank message: " + e);
    }
  }
}
