package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.ApplyResult;
import io.layerd.unpack.LayerApplier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import me.tongfei.progressbar.ProgressBarConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The progress display: what a real apply reports, as the bar draws it. */
class ProgressTest {
  @TempDir Path tmp;

  /** Keeps every frame the bar draws. */
  static final class Frames implements ProgressBarConsumer {
    final List<String> frames = new ArrayList<>();

    @Override
    public int getMaxRenderedLength() {
      return 120;
    }

    @Override
    public synchronized void accept(String rendered) {
      frames.add(rendered);
    }

    @Override
    public void close() {}

    synchronized String last() {
      return frames.get(frames.size() - 1);
    }
  }

  @Test
  void showsLayerNofNBytesAndEntries() throws IOException {
    TarBuilder b = TarBuilder.create();
    for (int i = 0; i < 300; i++) {
      b.file("d/f" + i, "content " + i);
    }
    byte[] layer = b.gzip();
    Frames frames = new Frames();
    List<ApplyResult> results = new ArrayList<>();
    try (Progress p = new Progress(() -> frames)) {
      LayerApplier applier = LayerApplier.builder().progress(p).build();
      Path root = Files.createDirectory(tmp.resolve("root"));
      p.layerStarts("/some/where/app.tar.gz", 1, 3, layer.length);
      results.add(
          applier.apply(
              "app.tar.gz", new ByteArrayInputStream(layer), root, LayerApplier.Expect.NOTHING));
    }
    String last = frames.last();
    assertTrue(last.contains("layer 2/3 "), last);
    assertTrue(last.contains(" 300 entries"), last);
    assertTrue(last.contains("MiB"), last);
    assertFalse(results.isEmpty());
  }

  @Test
  void nothingWhenQuietOrNotOnATerminal() {
    assertNull(Progress.forTerminal(true));
    // the test's standard error is a pipe or a file, not a terminal
    assertFalse(Progress.stderrIsTerminal());
    assertNull(Progress.forTerminal(false));
  }
}
