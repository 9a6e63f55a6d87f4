package io.layerd.unpack;

/** What the applier does with OCI whiteouts ({@code .wh.NAME} and {@code .wh..wh..opq}). */
public enum WhiteoutMode {
  /** Delete the whited-out paths from the lower layers already in the target (a plain tree). */
  APPLY,
  /**
   * Convert to overlayfs form: {@code .wh.NAME} becomes a character device 0/0 named NAME, an
   * opaque marker becomes the {@code overlay.opaque="y"} xattr on its directory.
   */
  OVERLAY,
  /** Write whiteout entries as the ordinary files they are in the tar. */
  KEEP
}
