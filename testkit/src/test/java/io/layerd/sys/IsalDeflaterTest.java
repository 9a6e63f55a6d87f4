package io.layerd.sys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.Require;
import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ISA-L's deflate, block by block, read back by java.util.zip as one raw deflate stream. */
class IsalDeflaterTest {
  private static final int BLOCK = 100_000;

  @BeforeEach
  void isalIsThereWhereTheMachineHasIt() {
    // CI installs libisal2: the fast path must be tested there, not silently skipped.
    Require.that(
        IsalDeflater.available(), "ISA-L is not used: " + IsalDeflater.unavailableReason());
  }

  /** Words from a small vocabulary, with runs of random bytes: compressible, as a tar is. */
  private static byte[] textLike(int size, long seed) {
    Random r = new Random(seed);
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (i / 4096) % 5 == 4 ? (byte) r.nextInt() : (byte) "layerd ISA-L ".charAt(i % 13);
      if (r.nextInt(50) == 0) {
        b[i] = (byte) ('a' + r.nextInt(26));
      }
    }
    return b;
  }

  /** Deflates {@code data} in blocks, each with up to 32 KiB before it as its dictionary. */
  private static byte[] blocks(IsalDeflater d, byte[] data, int block, boolean dictionaries) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int off = 0;
    do {
      int len = Math.min(block, data.length - off);
      int dict = dictionaries ? Math.min(off, 32 * 1024) : 0;
      out.writeBytes(d.deflate(data, off, len, data, off - dict, dict, off + len == data.length));
      off += len;
    } while (off < data.length);
    return out.toByteArray();
  }

  private static byte[] inflate(byte[] deflated, int expected) throws DataFormatException {
    Inflater inf = new Inflater(true);
    try {
      inf.setInput(deflated);
      byte[] out = new byte[expected + 1];
      int n = 0;
      while (!inf.finished() && !inf.needsInput() && n < out.length) {
        n += inf.inflate(out, n, out.length - n);
      }
      assertTrue(inf.finished(), "the deflate stream did not end");
      assertEquals(0, inf.getRemaining(), "bytes after the deflate stream's end");
      assertEquals(expected, n);
      return java.util.Arrays.copyOf(out, n);
    } finally {
      inf.end();
    }
  }

  @ParameterizedTest(name = "level {0}")
  @ValueSource(ints = {1, 2, 3})
  void blocksJoinIntoOneStreamThatJavaUtilZipInflates(int level) throws DataFormatException {
    byte[] data = textLike(7 * BLOCK + 123, level);
    try (IsalDeflater d = IsalDeflater.create(level)) {
      byte[] deflated = blocks(d, data, BLOCK, true);
      assertArrayEquals(data, inflate(deflated, data.length));
      assertTrue(deflated.length < data.length / 2, deflated.length + " bytes");
    }
  }

  @Test
  void theDictionaryLetsABlockReferToThePreviousOne() throws DataFormatException {
    // 20 KB of random bytes, repeated: a block alone holds the pattern once more.
    byte[] pattern = new byte[20_000];
    new Random(7).nextBytes(pattern);
    byte[] data = new byte[6 * BLOCK];
    for (int i = 0; i < data.length; i++) {
      data[i] = pattern[i % pattern.length];
    }
    try (IsalDeflater d = IsalDeflater.create(3)) {
      byte[] with = blocks(d, data, BLOCK, true);
      byte[] without = blocks(d, data, BLOCK, false);
      assertArrayEquals(data, inflate(with, data.length));
      assertArrayEquals(data, inflate(without, data.length));
      assertTrue(
          with.length + 4 * pattern.length < without.length,
          with.length + " bytes with dictionaries, " + without.length + " without");
    }
  }

  @Test
  void randomBytesAndAnEmptyStreamRoundTrip() throws DataFormatException {
    byte[] random = new byte[3 * BLOCK + 5];
    new Random(3).nextBytes(random);
    try (IsalDeflater d = IsalDeflater.create(1)) {
      byte[] deflated = blocks(d, random, BLOCK, true);
      assertArrayEquals(random, inflate(deflated, random.length));
      assertTrue(deflated.length < random.length + random.length / 100, deflated.length + "");
      assertArrayEquals(new byte[0], inflate(blocks(d, new byte[0], BLOCK, true), 0));
    }
  }

  @Test
  void levelsOutsideIsalsAreRefusedAndAClosedDeflaterFails() {
    assertThrows(IllegalArgumentException.class, () -> IsalDeflater.create(0));
    assertThrows(IllegalArgumentException.class, () -> IsalDeflater.create(4));
    IsalDeflater d = IsalDeflater.create(2);
    d.close();
    assertThrows(IllegalStateException.class, () -> d.deflate(new byte[1], 0, 1, null, 0, 0, true));
  }
}
