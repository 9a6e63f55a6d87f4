package io.layerd.engine;

import java.io.IOException;

/** The data-root cannot be used; the message names it, says why, and how to fix it. */
public final class DataRootException extends IOException {
  private static final long serialVersionUID = 1L;

  public DataRootException(String message) {
    super(message);
  }
}
