package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.layerd.unpack.internal.TarReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzing {@link TarReader}: whatever the bytes, reading every entry and its data ends in entries
 * or an {@link IOException} with a message; never another exception, a hang or unbounded memory.
 */
class TarReaderFuzzTest {
  static Stream<byte[]> seeds() {
    return Stream.concat(FuzzSeeds.tars().stream(), FuzzSeeds.noise().stream())
        .filter(b -> b.length <= FuzzSeeds.MAX_SEED);
  }

  @MethodSource("seeds")
  @FuzzTest
  void readEveryEntry(byte[] data) {
    TarReader r = new TarReader(new ByteArrayInputStream(data));
    byte[] buf = new byte[8192];
    long last = 0;
    try {
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        assertNotNull(e.name(), "an entry without a name");
        assertTrue(e.size() >= 0, "a negative size: " + e);
        InputStream content = r.content();
        long read = 0;
        for (int n; (n = content.read(buf)) > 0; ) {
          read += n;
        }
        assertTrue(read <= data.length, "more data than input: " + read);
        assertTrue(r.position() >= last, "the position went back");
        last = r.position();
      }
    } catch (IOException e) {
      assertNotNull(e.getMessage(), "a failure without a message: " + e.getClass());
      assertTrue(!e.getMessage().isBlank(), "a failure with a blank message");
    }
  }
}
