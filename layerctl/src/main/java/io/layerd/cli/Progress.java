package io.layerd.cli;

import io.layerd.unpack.ApplyProgress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The progress of an unpack on a terminal (me.tongfei:progressbar, drawn on standard error by its
 * own thread): layer n of N, bytes of the layer read of its size, entries, rate and ETA. Nothing
 * when standard error is not a terminal (piped, redirected, in a test), or with --quiet.
 */
final class Progress implements ApplyProgress, AutoCloseable {
  private final ProgressBarConsumerFactory consumers;
  private volatile ProgressBar bar;
  private volatile LongSupplier bytesRead;
  private Thread poller;

  /** Makes the consumer (the drawing target) of each layer's bar. */
  interface ProgressBarConsumerFactory {
    ProgressBarConsumer make();
  }

  Progress(ProgressBarConsumerFactory consumers) {
    this.consumers = consumers;
  }

  /**
   * A progress display on standard error when it is a terminal and not {@code quiet}, else null.
   */
  static Progress forTerminal(boolean quiet) {
    if (quiet || !stderrIsTerminal()) {
      return null;
    }
    return new Progress(() -> new ConsoleProgressBarConsumer(System.err));
  }

  /** Standard error is a terminal: /proc/self/fd/2 names a tty, and TERM is not dumb. */
  static boolean stderrIsTerminal() {
    if ("dumb".equals(System.getenv("TERM"))) {
      return false;
    }
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (java.io.IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  @Override
  public synchronized void layerStarts(String layer, int index, int count, long size) {
    endBar();
    // (the summary names each layer: the bar keeps its room for the figures)
    bar =
        new ProgressBarBuilder()
            .setTaskName("layer " + (index + 1) + "/" + count)
            .setInitialMax(size)
            .setUnit(" MiB", 1 << 20)
            .showSpeed()
            .setStyle(ProgressBarStyle.ASCII)
            .setUpdateIntervalMillis(200)
            .setConsumer(consumers.make())
            .continuousUpdate()
            .build();
  }

  @Override
  public synchronized void reading(LongSupplier bytes) {
    this.bytesRead = bytes;
    if (poller == null) {
      // While one large file is written no entry advances: the bytes read are polled.
      poller = new Thread(this::poll, "layerctl-progress");
      poller.setDaemon(true);
      poller.start();
    }
  }

  private void poll() {
    try {
      while (!Thread.currentThread().isInterrupted()) {
        Thread.sleep(200);
        ProgressBar b = bar;
        LongSupplier s = bytesRead;
        if (b != null && s != null) {
          b.stepTo(s.getAsLong());
        }
      }
    } catch (InterruptedException e) {
      // closed
    }
  }

  @Override
  public void advanced(long bytesRead, long entries) {
    ProgressBar b = bar;
    if (b != null) {
      b.stepTo(bytesRead);
      b.setExtraMessage(String.format(Locale.ROOT, " %,d entries", entries));
    }
  }

  /** Ends the current bar (drawn once more at its end) and the polling. */
  @Override
  public synchronized void close() {
    endBar();
    if (poller != null) {
      poller.interrupt();
      poller = null;
    }
  }

  private void endBar() {
    ProgressBar b = bar;
    bar = null;
    bytesRead = null;
    if (b != null) {
      b.close();
    }
  }
}
