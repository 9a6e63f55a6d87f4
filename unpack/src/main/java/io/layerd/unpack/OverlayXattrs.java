package io.layerd.unpack;

/**
 * The xattr namespace overlayfs reads its markers from: {@code trusted.overlay.*} when the mounter
 * is real root, {@code user.overlay.*} for a mount with {@code userxattr} in a user namespace
 * (Linux 5.11+).
 */
public enum OverlayXattrs {
  TRUSTED("trusted.overlay."),
  USER("user.overlay.");

  private final String prefix;

  OverlayXattrs(String prefix) {
    this.prefix = prefix;
  }

  /** "trusted.overlay." or "user.overlay.". */
  public String prefix() {
    return prefix;
  }

  /** The name of the opaque-directory marker. */
  public String opaque() {
    return prefix + "opaque";
  }

  /**
   * The name under which a layer's own overlay xattr is stored so that overlayfs shows it as
   * content instead of obeying it: {@code trusted.overlay.X} becomes {@code
   * trusted.overlay.overlay.X} (the kernel's escaping, Linux 6.7+).
   */
  public String escape(String name) {
    return name.startsWith(prefix) ? prefix + "overlay." + name.substring(prefix.length()) : name;
  }
}
