package io.layerd.unpack;

import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import java.io.IOException;
import java.nio.file.FileSystemException;

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
    StringBuilder sb = new StringBuilder("layer ").append(Names.brief(layer));
    if (entry != null) {
      sb.append(", entry '").append(Names.brief(entry)).append('\'');
    }
    if (offset >= 0 && !(cause instanceof InvalidArchiveException)) {
      sb.append(" (at byte ").append(offset).append(" of the uncompressed tar)");
    }
    sb.append(": ").append(causeMessage(entry, cause));
    return sb.toString();
  }

  /**
   * The cause's message; for a system call's failure on the entry's own path, without that path
   * (the message names the entry already): the call and errno, and the other path if there is one.
   */
  private static String causeMessage(String entry, IOException cause) {
    if (entry != null
        && cause instanceof FileSystemException f
        && cause instanceof NativeFailure
        && f.getFile() != null
        && onEntrysPath(f.getFile(), entry)) {
      return f.getReason()
          + (f.getOtherFile() == null ? "" : " (" + Names.brief(f.getOtherFile()) + ")");
    }
    return cause.getMessage() == null ? cause.toString() : cause.getMessage();
  }

  /** True when {@code file} is the entry's path or one of its parents', under some root. */
  private static boolean onEntrysPath(String file, String entry) {
    for (int k = entry.length(); k > 0; k = entry.lastIndexOf('/', k - 1)) {
      String part = entry.substring(0, k);
      if (file.equals(part) || file.endsWith("/" + part)) {
        return true;
      }
    }
    return false;
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
