package io.layerd.unpack.image;

import java.io.IOException;

/**
 * The image cannot be unpacked as asked: it is malformed, a digest or size does not match, a path
 * in it leaves the image, or the platform or reference asked for is not there (the message lists
 * what is).
 */
public class ImageException extends IOException {
  private static final long serialVersionUID = 1L;

  public ImageException(String message) {
    super(message);
  }

  public ImageException(String message, Throwable cause) {
    super(message, cause);
  }
}
