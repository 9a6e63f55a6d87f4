package io.layerd.bench;

import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarReader;
import java.io.BufferedInputStream;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** The tar reader alone: every header of the plain reference tar parsed, contents skipped. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 10)
@Fork(
    value = 1,
    jvmArgsAppend = {"-XX:+UseSerialGC"})
public class ParseBench {
  private Path tar;

  @Setup
  public void setUp() throws IOException {
    tar = BenchData.layer("tar");
  }

  /** Entries read. */
  @Benchmark
  public long parse() throws IOException {
    long entries = 0;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(tar), 1 << 20)) {
      TarReader r = new TarReader(in);
      TarEntry e;
      while ((e = r.next()) != null) {
        entries += e.name().length > 0 ? 1 : 0;
      }
    }
    return entries;
  }
}
