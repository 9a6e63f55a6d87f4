package io.layerd.engine.spi;

/**
 * What a driver can do, declared rather than guessed from its name. The conformance suite and the
 * engine branch on these, never on a driver's name.
 */
public enum Capability {
  /** Changes and Diff come from the driver's own record of a layer's changes (not a tree walk). */
  NATIVE_DIFF,
  /** Works for an unprivileged user inside a user namespace. */
  ROOTLESS,
  /** Keeps device nodes written into a layer (mknod works where the driver runs). */
  DEVICES,
  /** Keeps xattrs of any namespace written into a layer. */
  XATTRS,
  /** Layers share file data with their parent (copy-on-write); false means full copies. */
  COPY_ON_WRITE,
  /** A layer's filesystem is reachable only through a mount (Get must mount). */
  NEEDS_MOUNT
}
