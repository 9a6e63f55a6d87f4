package io.layerd.engine.spi;

/**
 * How a driver's diff directory records that a layer deletes something from its parents; the engine
 * chooses how to apply a layer's whiteouts from this (drivers know nothing of tar).
 */
public enum DeletionForm {
  /**
   * The diff directory is the layer's whole filesystem (a full copy or a snapshot of the parent): a
   * deletion is simply the absence of the file.
   */
  ABSENT,
  /** overlayfs form with {@code trusted.overlay.*} markers: 0/0 character devices, opaque xattr. */
  OVERLAY_TRUSTED,
  /** overlayfs form with {@code user.overlay.*} markers (a {@code userxattr} mount). */
  OVERLAY_USER
}
