package io.layerd.cli;

import io.layerd.unpack.ApplyProgress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
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
  private ProgressBar bar;

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
    close();
    String name = layer;
    int slash = name.lastIndexOf('/');
    if (slash >= 0 && slash < name.length() - 1) {
      name = name.substring(slash + 1);
    }
    if (name.length() > 24) {
      name = name.substring(0, 23) + "…";
    }
    bar =
        new ProgressBarBuilder()
            .setTaskName("layer " + (index + 1) + "/" + count + " " + name)
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
  public void advanced(long bytesRead, long entries) {
    ProgressBar b = bar;
    if (b != null) {
      b.stepTo(bytesRead);
      b.setExtraMessage(String.format(Locale.ROOT, " %,d entries", entries));
    }
  }

  /** Ends the current bar (drawn once more at its end). */
  @Override
  public synchronized void close() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }
}
