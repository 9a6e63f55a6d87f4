package io.layerd.sys;

import java.io.IOException;

/** An open file descriptor that closes once. Not thread-safe. */
public final class Fd implements AutoCloseable {
  private int fd;

  public Fd(int fd) {
    this.fd = fd;
  }

  /** The descriptor number; fails once closed. */
  public int get() {
    if (fd < 0) {
      throw new IllegalStateException("file descriptor already closed");
    }
    return fd;
  }

  public boolean isOpen() {
    return fd >= 0;
  }

  /** Hands the descriptor over to the caller, who must close it. */
  public int release() {
    int f = get();
    fd = -1;
    return f;
  }

  @Override
  public void close() throws IOException {
    if (fd >= 0) {
      int f = fd;
      fd = -1;
      Sys.close(f);
    }
  }

  @Override
  public String toString() {
    return "Fd(" + fd + ")";
  }
}
