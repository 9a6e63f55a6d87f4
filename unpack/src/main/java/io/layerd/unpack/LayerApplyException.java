package io.layerd.unpack;

import java.io.IOException;

/** Applying a layer failed: names the layer, the entry and where it stood in the stream. */
public class LayerApplyException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String layer;
  private final String entry;

  public LayerApplyException(String layer, String entry, long offset, IOException cause) {
    super(message(layer, entry, offset, cause), cause);
    this.layer = layer;
    this.entry = entry;
  }

  private static String message(String layer, String entry, long offset, IOException cause) {
    StringBuilder sb = new StringBuilder("layer ").append(layer);
    if (entry != null) {
      sb.append(", entry '").append(entry).append('\'');
    }
    if (offset >= 0 && !(cause instanceof InvalidArchiveException)) {
      sb.append(" (at byte ").append(offset).append(" of the uncompressed tar)");
    }
    sb.append(": ").append(cause.getMessage() == null ? cause.toString() : cause.getMessage());
    return sb.toString();
  }

  /** The layer's name as the caller gave it. */
  public String layer() {
    return layer;
  }

  /** The entry being applied, or null when the failure was not about one entry. */
  public String entry() {
    return entry;
  }
}
