package io.layerd.daemon;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What a layerd started in-process ({@link Daemon#start}) logs while this is open: slf4j-simple
 * writes each line to {@code System.err} as it is then, which this tees into a buffer until it is
 * closed.
 */
final class StderrLog implements AutoCloseable {
  private final PrintStream previous = System.err;
  private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

  StderrLog() {
    OutputStream tee =
        new OutputStream() {
          @Override
          public void write(int b) {
            previous.write(b);
            copy.write(b);
          }

          @Override
          public void write(byte[] b, int off, int len) {
            previous.write(b, off, len);
            copy.write(b, off, len);
          }
        };
    System.setErr(new PrintStream(tee, true, StandardCharsets.UTF_8));
  }

  /** The lines logged so far that contain {@code text}. */
  List<String> lines(String text) {
    return copy.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains(text)).toList();
  }

  @Override
  public void close() {
    System.setErr(previous);
  }
}
