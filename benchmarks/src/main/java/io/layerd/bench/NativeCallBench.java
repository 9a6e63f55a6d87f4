package io.layerd.bench;

import io.layerd.bench.ffi.NativeCalls;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one native call, by foreign-function interface: the calls the applier makes for every
 * entry, on a file in a directory on tmpfs ({@code -Dlayerd.bench.tmpfs}, default /dev/shm), named
 * relative to an open directory as the applier names them. {@code binding}: {@code sys} (what the
 * applier runs: io.layerd.sys.Sys, JNA direct mapping, with its Stat record and exceptions), {@code
 * jna} (JNA direct mapping bound here, the same wrapping as the others), {@code jnr} (jnr-ffi) and
 * {@code ffm}/{@code ffm-critical} (java.lang.foreign: run on Java 22 or later, e.g.
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar benchmarks/target/benchmarks.jar NativeCallBench;
 * on an older JVM those two fail at set-up). {@code getuid} is a call with no argument to copy: the
 * interface's own cost over the kernel's entry and exit. fchownat gives the file the owner it has
 * (the benchmark's own ids), so that it runs unprivileged.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"-XX:+UseSerialGC"})
public class NativeCallBench {
  @Param({"sys", "jna", "jnr", "ffm", "ffm-critical"})
  public String binding;

  private NativeCalls calls;
  private Path dir;
  private Fd dirFd;
  private final byte[] name = "usr-share-doc-libc6-copyright".getBytes(StandardCharsets.US_ASCII);
  private long tick;
  private final int uid = (int) Sys.geteuid();
  private final int gid = (int) Sys.getegid();

  @Setup
  public void setUp() throws IOException {
    calls = NativeCalls.named(binding);
    dir =
        Files.createTempDirectory(
            Path.of(System.getProperty("layerd.bench.tmpfs", "/dev/shm")), "layerd-call-bench.");
    Files.writeString(dir.resolve(new String(name, StandardCharsets.US_ASCII)), "x");
    dirFd = Sys.openDirectory(dir.toString());
  }

  @TearDown
  public void tearDown() throws IOException {
    dirFd.close();
    Files.delete(dir.resolve(new String(name, StandardCharsets.US_ASCII)));
    Files.delete(dir);
  }

  @Benchmark
  public int getuid() {
    return calls.getuid();
  }

  @Benchmark
  public long fstatat() throws IOException {
    return calls.fstatat(dirFd.get(), name);
  }

  @Benchmark
  public void fchownat() throws IOException {
    calls.fchownat(dirFd.get(), name, uid, gid);
  }

  @Benchmark
  public void utimensat() throws IOException {
    calls.utimensat(dirFd.get(), name, 1_700_000_000L, tick++ % 1_000_000_000L);
  }

  @Benchmark
  public void openatClose() throws IOException {
    calls.openClose(dirFd.get(), name);
  }
}
