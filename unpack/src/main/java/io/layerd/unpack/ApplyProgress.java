package io.layerd.unpack;

import java.util.function.LongSupplier;

/**
 * Follows an apply while it runs, for a progress display. {@link #advanced} is called on the
 * applying thread every few entries, so it must only record the figures (a display reads them on
 * its own thread).
 */
public interface ApplyProgress {
  /** Reports nothing. */
  ApplyProgress NONE = new ApplyProgress() {};

  /**
   * A layer starts.
   *
   * @param layer its name as the caller gives it
   * @param index its position, from 0
   * @param count the layers in this run (1 when unknown)
   * @param size its size as stored (compressed), or -1 when unknown (a pipe)
   */
  default void layerStarts(String layer, int index, int count, long size) {}

  /**
   * The current layer's stream is open: {@code bytesRead} gives the bytes of the layer as stored
   * read so far, and may be called from any thread while the layer is applied (a display polls it
   * while one large file is written, when no entry advances).
   */
  default void reading(LongSupplier bytesRead) {}

  /**
   * The current layer advanced.
   *
   * @param bytesRead bytes of the layer as stored read so far
   * @param entries tar entries applied so far
   */
  default void advanced(long bytesRead, long entries) {}
}
