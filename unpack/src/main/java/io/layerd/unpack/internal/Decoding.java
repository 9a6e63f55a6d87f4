package io.layerd.unpack.internal;

import io.layerd.unpack.Compression;
import io.layerd.unpack.InvalidArchiveException;
import java.io.IOException;
import org.tukaani.xz.MemoryLimitException;

/** What the applier's pipeline and {@link LayerStream} say when a layer does not decompress. */
public final class Decoding {
  private Decoding() {}

  /**
   * A decompression failure already said plainly (what went wrong, where, and what to do), passed
   * on as it is. The layer's bytes are not valid: an {@link InvalidArchiveException} (layerctl's
   * bad-input exit status).
   */
  public static class Failure extends InvalidArchiveException {
    private static final long serialVersionUID = 1L;

    Failure(String message, Throwable cause) {
      super(message, -1);
      if (cause != null) {
        initCause(cause);
      }
    }
  }

  /**
   * Bytes after the last compressed member (gzip), frame (zstd) or stream (xz, bzip2) that do not
   * start another: the compressed layer must be valid to its last byte, as containerd requires (its
   * applier reads the decompressed stream to its end after the tar and fails on the decompressor's
   * error; moby ignores that error; {@code xz -d} refuses them, {@code bzip2 -d} warns). Bytes
   * after the tar's end-of-archive inside the decompressed stream are read, digested into the
   * diffID and ignored, as both do.
   */
  public static final class TrailingData extends Failure {
    private static final long serialVersionUID = 1L;

    TrailingData(String message) {
      super(message, null);
    }
  }

  /**
   * Trailing garbage: the compressed data of format {@code c} ends at byte {@code offset} of the
   * layer; {@code count} bytes follow (-1: unknown); {@code detail} is the decoder's word (or
   * null).
   */
  public static TrailingData trailing(Compression c, long offset, long count, String detail) {
    String unit =
        switch (c) {
          case GZIP -> "gzip member";
          case ZSTD -> "zstd frame";
          default -> c.label() + " stream";
        };
    return new TrailingData(
        "the "
            + c.label()
            + " data ends at byte "
            + offset
            + " of the layer, and what follows"
            + (count >= 0 ? " (" + count + (count == 1 ? " byte" : " bytes") + ")" : "")
            + " is not another "
            + unit
            + (detail == null ? "" : " (" + detail + ")")
            + ": the compressed layer has trailing garbage, which layerd refuses as containerd"
            + " does; recompress the layer or remove the bytes after its end (head -c "
            + offset
            + ")");
  }

  /**
   * The layer ends (at byte {@code length}) inside the compressed data of format {@code c}: a
   * download or copy that stopped early.
   */
  public static Failure cutShort(Compression c, long length, Exception e) {
    return said(
        c,
        "is cut short: the layer ends after "
            + length
            + " bytes, inside its compressed data (an incomplete download or copy: fetch the"
            + " layer again)",
        e);
  }

  /** The compressed data of format {@code c} is damaged, at or before byte {@code offset}. */
  public static Failure corrupt(Compression c, long offset, Exception e) {
    return said(
        c,
        "is corrupt at or before byte " + offset + " of the layer (it was damaged: fetch it again)",
        e);
  }

  /** "the FORMAT stream WHAT: the decoder's word". */
  private static Failure said(Compression c, String what, Exception e) {
    return new Failure("the " + c.label() + " stream " + what + ": " + detail(e), e);
  }

  /**
   * A decompressor's failure, said plainly: which format, how far into the layer ({@code offset}
   * bytes of it read), and what went wrong. One said already ({@link Failure}) is returned as it
   * is.
   */
  public static IOException failure(Compression c, long offset, Exception e) {
    if (e instanceof Failure f) {
      return f;
    }
    MemoryLimitException m = memoryLimit(e);
    if (m != null) {
      return new Failure(
          "the xz stream needs "
              + (m.getMemoryNeeded() >> 10)
              + " MiB of memory to be decompressed (its dictionary size), over the "
              + (m.getMemoryLimit() >> 10)
              + " MiB layerd allows: compress the layer with a smaller dictionary (xz -9 needs"
              + " 65 MiB)",
          e);
    }
    return new Failure(
        "the "
            + c.label()
            + " stream is corrupt or cut short (after "
            + offset
            + " bytes of the layer): "
            + detail(e),
        e);
  }

  /** xz's memory limit, if that is what {@code e} (or a cause of it) is. */
  static MemoryLimitException memoryLimit(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof MemoryLimitException m) {
        return m;
      }
    }
    return null;
  }

  private static String detail(Exception e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
