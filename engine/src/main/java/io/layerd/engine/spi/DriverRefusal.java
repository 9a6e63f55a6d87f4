package io.layerd.engine.spi;

/**
 * A driver's typed "no": only these make driver selection move on to the next driver; any other
 * exception stops the selection, because it means something is broken rather than absent.
 */
public final class DriverRefusal extends Exception {
  private static final long serialVersionUID = 1L;

  /** Why a driver cannot serve a data-root. */
  public enum Kind {
    /** The kernel or platform lacks the feature (e.g. no overlay filesystem). */
    NOT_SUPPORTED("not supported"),
    /** Something the driver needs is missing (a binary, a device, a kernel version). */
    PREREQUISITES_MISSING("prerequisites missing"),
    /** The data-root's filesystem cannot hold this driver's layers. */
    INCOMPATIBLE_FILESYSTEM("incompatible filesystem");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  private final String driver;
  private final Kind kind;
  private final String reason;

  public DriverRefusal(String driver, Kind kind, String reason) {
    super(driver + ": " + kind.label() + ": " + reason);
    this.driver = driver;
    this.kind = kind;
    this.reason = reason;
  }

  public String driver() {
    return driver;
  }

  public Kind kind() {
    return kind;
  }

  /** The human reason, e.g. "fuse-overlayfs is not installed (Debian: apt-get install ...)". */
  public String reason() {
    return reason;
  }
}
