package io.layerd.unpack.internal;

import io.layerd.unpack.Compression;
import java.io.IOException;
import org.tukaani.xz.MemoryLimitException;

/** What the applier's pipeline and {@link LayerStream} say when a layer does not decompress. */
public final class Decoding {
  private Decoding() {}

  /**
   * A decompressor's failure, said plainly: which format, how far into the layer ({@code offset}
   * bytes of it read), and what went wrong.
   */
  public static IOException failure(Compression c, long offset, Exception e) {
    if (e instanceof MemoryLimitException m) {
      return new IOException(
          "the xz stream needs "
              + (m.getMemoryNeeded() >> 10)
              + " MiB of memory to be decompressed (its dictionary size), over the "
              + (m.getMemoryLimit() >> 10)
              + " MiB layerd allows: compress the layer with a smaller dictionary (xz -9 needs"
              + " 65 MiB)",
          e);
    }
    String detail = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return new IOException(
        "the "
            + c.label()
            + " stream is corrupt or cut short (after "
            + offset
            + " bytes of the layer): "
            + detail,
        e);
  }
}
