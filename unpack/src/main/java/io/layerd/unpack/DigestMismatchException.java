package io.layerd.unpack;

import java.io.IOException;

/** A layer's bytes do not give the digest (or diffID) the caller expected. */
public class DigestMismatchException extends IOException {
  private static final long serialVersionUID = 1L;

  public DigestMismatchException(String message) {
    super(message);
  }
}
