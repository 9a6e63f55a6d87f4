package io.layerd.bench;

import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.LayerApplier;
import io.layerd.unpack.internal.Staging;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole applier, in process with a warm JVM: the reference layer applied (staged, as layerctl
 * does) into a fresh directory on tmpfs ({@code -Dlayerd.bench.tmpfs}, default /dev/shm) or on disk
 * ({@code -Dlayerd.bench.disk}, default /var/tmp). The directory is removed (and, on disk, synced)
 * between iterations, outside the timing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 7)
@Fork(
    value = 1,
    jvmArgsAppend = {"-XX:+UseSerialGC"})
public class ApplyBench {
  @Param({"gzip", "zstd", "tar"})
  public String format;

  @Param({"tmpfs", "disk"})
  public String target;

  private Path layer;
  private Path parent;
  private Path dest;
  private int round;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    layer = BenchData.layer(format);
    Path base =
        Path.of(
            target.equals("tmpfs")
                ? System.getProperty("layerd.bench.tmpfs", "/dev/shm")
                : System.getProperty("layerd.bench.disk", "/var/tmp"));
    parent = Files.createTempDirectory(base, "layerd-apply-bench.");
  }

  @Setup(Level.Iteration)
  public void fresh() {
    dest = parent.resolve("rootfs" + round++);
  }

  @TearDown(Level.Iteration)
  public void remove() throws IOException, InterruptedException {
    run("rm", "-rf", "--one-file-system", dest.toString());
    if (target.equals("disk")) {
      run("sync", "-f", parent.toString());
    }
  }

  @TearDown(Level.Trial)
  public void removeAll() throws IOException, InterruptedException {
    run("rm", "-rf", "--one-file-system", parent.toString());
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    new ProcessBuilder(cmd).inheritIO().start().waitFor();
  }

  @Benchmark
  public ApplyResult apply() throws IOException {
    try (InputStream in = new java.io.FileInputStream(layer.toFile())) { // as layerctl opens it
      return Staging.into(
          dest,
          fd -> LayerApplier.builder().build().apply("bench", in, fd, LayerApplier.Expect.NOTHING));
    }
  }
}
