package io.layerd.testkit.conformance;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Passes the first {@code limit} bytes of a stream through, then throws {@link SimulatedCrash}. */
public final class CrashingInputStream extends FilterInputStream {
  private final long limit;
  private long read;

  /** Crashes once more than {@code limit} bytes are asked for. */
  public CrashingInputStream(InputStream in, long limit) {
    super(in);
    if (limit < 0) {
      throw new IllegalArgumentException("negative limit " + limit);
    }
    this.limit = limit;
  }

  @Override
  public int read() throws IOException {
    if (read >= limit) {
      throw new SimulatedCrash(read);
    }
    int b = super.read();
    if (b >= 0) {
      read++;
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (read >= limit) {
      throw new SimulatedCrash(read);
    }
    int n = super.read(b, off, (int) Math.min(len, limit - read));
    if (n > 0) {
      read += n;
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    byte[] buf = new byte[(int) Math.min(n, 8192)];
    int r = read(buf, 0, buf.length);
    return Math.max(r, 0);
  }
}
