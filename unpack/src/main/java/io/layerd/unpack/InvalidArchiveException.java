package io.layerd.unpack;

import java.io.IOException;

/** The layer's bytes are not a valid (or not a safe) tar archive. */
public class InvalidArchiveException extends IOException {
  private static final long serialVersionUID = 1L;
  private final long offset;

  /**
   * @param offset byte offset in the uncompressed stream, or -1 when unknown
   */
  public InvalidArchiveException(String message, long offset) {
    super(offset >= 0 ? message + " (at byte " + offset + " of the uncompressed tar)" : message);
    this.offset = offset;
  }

  public long offset() {
    return offset;
  }
}
