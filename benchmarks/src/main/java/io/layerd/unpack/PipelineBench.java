package io.layerd.unpack;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The applier's front half: {@link LayerPipeline} (the decoder thread, and the digest thread
 * computing the layer's digest and diffID) with a reader that takes every chunk and drops it — the
 * apply without the tar reader and the filesystem. In this package because the pipeline is not
 * public. Reference layer: see {@code io.layerd.bench.BenchData}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 7)
@Fork(
    value = 1,
    jvmArgsAppend = {"-XX:+UseSerialGC"})
public class PipelineBench {
  @Param({"gzip", "zstd", "tar"})
  public String format;

  private Path layer;

  @Setup
  public void setUp() throws IOException {
    String d = System.getProperty("layerd.bench.data", System.getenv("LAYERD_BENCH_DATA"));
    Path dir = Path.of(d != null ? d : "/var/tmp/layerd-bench-unpack");
    layer =
        dir.resolve(
            format.equals("tar")
                ? "debian.tar"
                : format.equals("gzip") ? "debian.tar.gz" : "debian.tar.zst");
    if (!Files.isReadable(layer)) {
      throw new IOException(layer + " is missing: run benchmarks/compare.sh once");
    }
  }

  /** The diffID. */
  @Benchmark
  public String decodeAndDigest() throws IOException {
    try (InputStream in = new java.io.FileInputStream(layer.toFile());
        LayerPipeline p = LayerPipeline.start(in)) {
      return p.finish().diffId();
    }
  }
}
