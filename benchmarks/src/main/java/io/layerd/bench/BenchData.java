package io.layerd.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the unpack benchmarks find their reference layer: debian.tar, debian.tar.gz and
 * debian.tar.zst (made by testdata's make-debian-layer.sh; benchmarks/compare.sh makes them when
 * missing) in {@code -Dlayerd.bench.data=DIR}, else $LAYERD_BENCH_DATA, else
 * /var/tmp/layerd-bench-unpack.
 */
final class BenchData {
  private BenchData() {}

  static Path dir() {
    String d = System.getProperty("layerd.bench.data", System.getenv("LAYERD_BENCH_DATA"));
    return Path.of(d != null ? d : "/var/tmp/layerd-bench-unpack");
  }

  /** The layer of a format: "tar", "gzip" or "zstd". */
  static Path layer(String format) throws IOException {
    String name;
    switch (format) {
      case "tar":
        name = "debian.tar";
        break;
      case "gzip":
        name = "debian.tar.gz";
        break;
      case "zstd":
        name = "debian.tar.zst";
        break;
      default:
        throw new IllegalArgumentException("no such format: " + format);
    }
    Path p = dir().resolve(name);
    if (!Files.isReadable(p)) {
      throw new IOException(
          p
              + " is missing: run benchmarks/compare.sh once (it builds the Debian reference layer)"
              + " or point -Dlayerd.bench.data at a directory holding debian.tar{,.gz,.zst}");
    }
    return p;
  }
}
