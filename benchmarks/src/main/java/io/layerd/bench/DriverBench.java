package io.layerd.bench;

import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a storage driver costs where Docker feels it: making a container's layer on a big image
 * layer, and committing a small change (Diff).
 *
 * <pre>
 * java -cp ... io.layerd.bench.DriverBench DRIVER [DATA-ROOT-PARENT] [FILES] [TOTAL-MIB] [RUNS]
 *   DRIVER            overlay2, vfs, ... (any driver on the class path)
 *   DATA-ROOT-PARENT  where a fresh data-root is made and removed (default /var/tmp); put it on
 *                     the filesystem you mean to measure
 *   FILES, TOTAL-MIB  the base layer: 20000 files, 1024 MiB (200 directories of 100 files)
 *   RUNS              how often each timing is repeated (default 5): the median is printed
 * </pre>
 *
 * Steps: the base layer is applied from a generated tar (timed once, for reference); then, RUNS
 * times, a read-write child is created (create-child), mounted and given a 10-file change (5 files
 * modified, 5 added: 40 KiB in all), and its Diff against the base is written to a counting sink
 * (diff-10-files; Changes alone is timed too). Needs root (or a user namespace) for mounting
 * drivers. A plain main, not a test: never part of the build's test run.
 */
public final class DriverBench {
  private DriverBench() {}

  private static final int DIRS = 200;
  private static final int CHANGED = 10;

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args[0].equals("-h") || args[0].equals("--help")) {
      System.err.println(
          "usage: DriverBench DRIVER [DATA-ROOT-PARENT] [FILES] [TOTAL-MIB] [RUNS]"
              + " (defaults: /var/tmp 20000 1024 5)");
      System.exit(2);
    }
    String driver = args[0];
    Path parent = Path.of(args.length > 1 ? args[1] : "/var/tmp");
    int files = args.length > 2 ? Integer.parseInt(args[2]) : 20_000;
    long totalMib = args.length > 3 ? Long.parseLong(args[3]) : 1024;
    int runs = args.length > 4 ? Integer.parseInt(args[4]) : 5;
    long fileSize = totalMib * 1024 * 1024 / files;

    Path base = Files.createTempDirectory(parent, "layerd-driverbench-");
    try (Engine e = Engine.open(EngineConfig.of(base.resolve("root"), driver))) {
      System.out.printf(
          Locale.ROOT,
          "driver %s (%s), data-root %s%n",
          e.driver().name(),
          e.selection().why(),
          e.dataRoot());
      for (Map.Entry<String, String> s : e.driver().status()) {
        System.out.printf(Locale.ROOT, "  %s: %s%n", s.getKey(), s.getValue());
      }
      System.out.printf(
          Locale.ROOT,
          "base layer: %d files of %d bytes in %d directories (%.1f MiB)%n",
          files,
          fileSize,
          DIRS,
          files * (double) fileSize / (1 << 20));

      long t0 = System.nanoTime();
      e.create("base", null);
      try (InputStream tar = generatedLayer(files, fileSize)) {
        e.applyDiff("base", null, tar);
      }
      try (Fd r = Sys.openDirectory(e.dataRoot().toString())) {
        Sys.syncfs(r.get());
      }
      report("apply-base (reference)", List.of(System.nanoTime() - t0));

      List<Long> create = new ArrayList<>();
      List<Long> mount = new ArrayList<>();
      List<Long> changes = new ArrayList<>();
      List<Long> diff = new ArrayList<>();
      long diffBytes = 0;
      for (int run = 0; run < runs; run++) {
        String id = "child" + run;
        long a = System.nanoTime();
        e.createReadWrite(id, "base");
        create.add(System.nanoTime() - a);

        long b = System.nanoTime();
        Path root = e.get(id);
        mount.add(System.nanoTime() - b);
        try {
          change(root, run);
        } finally {
          e.put(id);
        }

        long c = System.nanoTime();
        int n = e.changes(id, null).size();
        changes.add(System.nanoTime() - c);
        if (n < CHANGED) {
          throw new AssertionError("expected at least " + CHANGED + " changes, got " + n);
        }

        CountingSink sink = new CountingSink();
        long d = System.nanoTime();
        e.diff(id, null, sink);
        diff.add(System.nanoTime() - d);
        diffBytes = sink.count;
        e.remove(id);
      }
      report("create-child", create);
      report("first-get (mount) of the child", mount);
      report("changes-10-files", changes);
      report("diff-10-files (" + diffBytes + " bytes of tar)", diff);
    } finally {
      removeTree(base);
    }
  }

  /** 5 files of the base modified, 5 added, 4 KiB each. */
  private static void change(Path root, int run) throws IOException {
    byte[] data = new byte[4096];
    Arrays.fill(data, (byte) ('a' + run % 26));
    for (int i = 0; i < CHANGED / 2; i++) {
      Files.write(root.resolve(String.format(Locale.ROOT, "d%03d/f%05d", i, i)), data);
      Files.write(root.resolve(String.format(Locale.ROOT, "d%03d/new-%d", i, run)), data);
    }
  }

  /** A tar of {@code files} files in {@link #DIRS} directories, streamed as it is written. */
  private static InputStream generatedLayer(int files, long fileSize) throws IOException {
    PipedInputStream in = new PipedInputStream(1 << 20);
    PipedOutputStream out = new PipedOutputStream(in);
    Thread writer =
        new Thread(
            () -> {
              try (OutputStream o = out) {
                TarWriter w = new TarWriter(o);
                byte[] block = new byte[(int) Math.min(fileSize, 1 << 16)];
                for (int i = 0; i < block.length; i++) {
                  block[i] = (byte) (i * 31 + 7);
                }
                long mtime = 1_700_000_000L;
                for (int d = 0; d < DIRS; d++) {
                  w.writeHeader(header(TarEntry.Type.DIRECTORY, dirName(d), 0755, 0, mtime));
                }
                for (int f = 0; f < files; f++) {
                  String name = dirName(f % DIRS) + String.format(Locale.ROOT, "/f%05d", f);
                  w.writeHeader(header(TarEntry.Type.FILE, name, 0644, fileSize, mtime));
                  w.writeData(new Repeating(block, fileSize));
                }
                w.finish();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            },
            "layer-generator");
    writer.setDaemon(true);
    writer.start();
    return in;
  }

  private static String dirName(int d) {
    return String.format(Locale.ROOT, "d%03d", d);
  }

  private static TarWriter.Header header(
      TarEntry.Type type, String name, int mode, long size, long mtime) {
    return new TarWriter.Header(
        type,
        name.getBytes(StandardCharsets.UTF_8),
        new byte[0],
        mode,
        0,
        0,
        size,
        mtime,
        0,
        0,
        Map.of());
  }

  private static void report(String what, List<Long> nanos) {
    List<Long> sorted = new ArrayList<>(nanos);
    sorted.sort(null);
    double median = sorted.get(sorted.size() / 2) / 1e6;
    double min = sorted.get(0) / 1e6;
    double max = sorted.get(sorted.size() - 1) / 1e6;
    System.out.printf(
        Locale.ROOT,
        "%-42s median %10.2f ms  (min %.2f, max %.2f, %d runs)%n",
        what,
        median,
        min,
        max,
        nanos.size());
  }

  private static void removeTree(Path p) throws IOException {
    try (Fd d = Sys.openDirectory(p.getParent().toString())) {
      Trees.removeAll(d.get(), p.getFileName().toString());
    }
  }

  /** {@code size} bytes of a repeated block. */
  private static final class Repeating extends InputStream {
    private final byte[] block;
    private long left;

    Repeating(byte[] block, long size) {
      this.block = block;
      this.left = size;
    }

    @Override
    public int read() {
      if (left <= 0) {
        return -1;
      }
      left--;
      return block[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (left <= 0) {
        return -1;
      }
      int n = (int) Math.min(Math.min(len, block.length), left);
      System.arraycopy(block, 0, b, off, n);
      left -= n;
      return n;
    }
  }

  /** Counts what is written and drops it. */
  private static final class CountingSink extends OutputStream {
    long count;

    @Override
    public void write(int b) {
      count++;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      count += len;
    }
  }
}
