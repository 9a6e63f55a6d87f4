package io.layerd.unpack;

import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The seed corpus of the fuzz tests: layers built in code with {@link TarBuilder} (every entry
 * type, PAX and GNU long names, whiteouts, the peers' breakout cases), in every compression, and
 * the small layers of the repository's testdata/. Jazzer runs each as a regression input and
 * mutates them when fuzzing; crashes it finds are kept beside the tests as {@code
 * <Class>Inputs/<method>/}.
 */
public final class FuzzSeeds {
  private FuzzSeeds() {}

  /** The largest seed kept: libFuzzer mutates within the largest seed's length. */
  static final int MAX_SEED = 64 << 10;

  /** Uncompressed layer tars built in code. */
  public static List<byte[]> tars() {
    List<byte[]> out = new ArrayList<>();
    out.add(TarBuilder.create().dir("etc").file("etc/hello.txt", "hello\n").build());
    out.add(
        TarBuilder.create()
            .dir("a")
            .mode(0700)
            .file("a/f", "x")
            .owner(1000, 1000)
            .symlink("a/s", "../../etc/passwd")
            .hardlink("a/h", "a/f")
            .fifo("a/p")
            .charDevice("a/c", 1, 3)
            .blockDevice("a/b", 8, 0)
            .build());
    out.add(
        TarBuilder.create()
            .dir("d")
            .file("d/x", "1")
            .whiteout("d/y")
            .opaque("d")
            .file(".wh.top", "")
            .build());
    out.add(
        TarBuilder.create()
            .file("x".repeat(200) + "/" + "y".repeat(120), "long")
            .file("g/" + "n".repeat(150), "gnu long name")
            .format(TarBuilder.Format.GNU)
            .build());
    out.add(
        TarBuilder.create()
            .file("ignored", "pax path")
            .pax("path", "p/ünï")
            .file("caps", "c")
            .xattr("user.k", "v")
            .xattr("security.capability", new byte[] {1, 0, 0, 2, 0, 0, 0, 0})
            .file("t", "times")
            .mtime(1_700_000_000L, 123)
            .build());
    out.add(
        TarBuilder.create().globalHeader(Map.of("comment", "g")).file("f", "after global").build());
    out.add(TarBuilder.create().file("short", "abc").declaredSize(4096).build());
    out.add(TarBuilder.create().file("f", "x").endBlocks(1).build());
    out.add(TarBuilder.create().file("f", "x").trailingData(new byte[] {1, 2, 3}).build());
    out.add(TarBuilder.create().file("p".repeat(120) + "/f", "prefix").ustarPrefix().build());
    out.add(TarBuilder.create().file("big", 70_000).build());
    for (BreakoutCases.Case c : BreakoutCases.all()) {
      BreakoutCases.Host h = new BreakoutCases.Host(Path.of("/tmp/layerd-fuzz-host/sandbox"));
      if (c.lower() != null) {
        out.add(c.lower().apply(h).build());
      }
      out.add(c.layer().apply(h).build());
    }
    return out;
  }

  /** The tars of {@link #tars()} as they are and compressed every way, and testdata's layers. */
  public static List<byte[]> layers() {
    List<byte[]> out = new ArrayList<>(tars());
    TarBuilder t =
        TarBuilder.create().dir("etc").file("etc/hello.txt", "hello\n").symlink("l", "/");
    out.add(t.gzip());
    out.add(t.gzipMultiMember());
    out.add(t.zstd());
    out.add(t.zstdWithSkippableFrame());
    out.add(t.xz());
    out.add(t.bzip2());
    out.add(testdata("layers/moby-xattr-capability-layer.tar"));
    out.add(testdata("images/dive-test-oci-zstd-image.tar"));
    out.add(testdata("images/ggcr-test-image-uid185992.tar"));
    return out.stream().filter(b -> b.length <= MAX_SEED).toList();
  }

  /** Bytes that are no layer at all. */
  public static List<byte[]> noise() {
    byte[] zeros = new byte[1024];
    byte[] ff = new byte[512];
    Arrays.fill(ff, (byte) 0xff);
    return List.of(zeros, ff, "not a tar".getBytes(StandardCharsets.US_ASCII));
  }

  static byte[] testdata(String relative) {
    try {
      return Files.readAllBytes(TestData.file(relative));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
