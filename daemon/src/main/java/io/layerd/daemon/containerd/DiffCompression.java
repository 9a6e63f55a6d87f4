package io.layerd.daemon.containerd;

import static java.util.stream.Collectors.joining;

import com.github.luben.zstd.ZstdOutputStream;
import io.layerd.sys.IsalDeflater;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * How layerd's differ compresses the layers it writes (containerd's Diff: {@code docker commit},
 * {@code ctr snapshots diff}, BuildKit where it asks the differ): the daemon's {@code
 * --diff-compression} option, {@code "diff-compression"} in its config file. The caller chooses the
 * format (the media type: gzip, zstd or none); this setting chooses how hard the gzip codec works.
 *
 * <ul>
 *   <li>{@link #FAST} (the default): Intel ISA-L's deflate at its level {@value #ISAL_LEVEL} where
 *       libisal2 is installed: layers about 5 to 7% larger than those of containerd's walking
 *       differ for a sixth of java.util.zip's CPU. Without ISA-L, as {@link #SMALL}.
 *   <li>{@link #SMALL}: layers no larger than the walking differ's (Go's {@code compress/gzip} at
 *       its default level 6): java.util.zip's deflate at level {@value #ZLIB_LEVEL}.
 * </ul>
 *
 * Either way the gzip is deflated on every core ({@link ParallelGzipOutputStream}). zstd layers are
 * written at zstd's level {@value #ZSTD_LEVEL} under both settings: zstd's default, already faster
 * than any gzip here, so there is no trade-off to choose (containerd's walking differ uses
 * klauspost/compress's default, which that library likens to level 3; not measured here).
 */
public enum DiffCompression {
  /** ISA-L's deflate where it is available, else as {@link #SMALL}. */
  FAST,
  /** No larger than containerd's walking differ's layers. */
  SMALL;

  /**
   * java.util.zip's level for gzip layers under {@link #SMALL} (and {@link #FAST} without ISA-L):
   * the fastest whose layers are no larger than Go's level 6. On the Debian reference tar (239 MB):
   * Go's level 6 gives 84.37 MB for 5.2 s of CPU; java.util.zip's level 6 82.98 MB for 5.9 s, level
   * 5 83.67 MB for 4.0 s, level 4 85.27 MB (1.1% over Go's) for 3.0 s. On testdata's BusyBox,
   * Alpine and CirrOS trees level 5 is 2.3 to 2.7% under Go's level 6.
   */
  static final int ZLIB_LEVEL = 5;

  /**
   * ISA-L's level for gzip layers under {@link #FAST} ({@link IsalDeflater}). No ISA-L level is as
   * small as Go's level 6: on the Debian tar, in 128 KiB blocks with dictionaries, level 1 gives
   * 92.59 MB for 0.6 s of CPU, level 2 91.49 MB for 0.55 s, level 3 90.06 MB (6.7% over Go's) for
   * 0.7 s. Level 3 is taken: a large commit is bound by deflate, and it costs a sixth of
   * java.util.zip's level 5 for 7.6% more bytes.
   */
  static final int ISAL_LEVEL = 3;

  /** zstd's level under both settings. */
  static final int ZSTD_LEVEL = 3;

  /**
   * The value as the option and the config file spell it: {@code fast} or {@code small}. Anything
   * else is refused with a message naming the values, after {@code what} (the option, or the config
   * file's key) unless it is null.
   */
  public static DiffCompression parse(String value, String what) {
    for (DiffCompression c : values()) {
      if (c.toString().equals(value)) {
        return c;
      }
    }
    throw new IllegalArgumentException(
        (what == null ? "" : what + ": ")
            + "\""
            + value
            + "\" is not "
            + Arrays.stream(values()).map(DiffCompression::toString).collect(joining(" or "))
            + " (fast: ISA-L's deflate where libisal2 is installed; small: layers no larger than"
            + " containerd's)");
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** A codec and its level, as the log names it. */
  record Codec(String format, String library, int level) {
    static final Codec NONE = new Codec("tar", "none", 0);

    boolean isal() {
      return library.equals("ISA-L");
    }

    @Override
    public String toString() {
      return format.equals("tar") ? "uncompressed" : format + " by " + library + " level " + level;
    }
  }

  /** The gzip codec of this setting where ISA-L's deflate is (or is not) available. */
  Codec gzip(boolean isalAvailable) {
    return this == FAST && isalAvailable
        ? new Codec("gzip", "ISA-L", ISAL_LEVEL)
        : new Codec("gzip", "java.util.zip", ZLIB_LEVEL);
  }

  /** The codec of this setting for a layer of {@code mediaType}, on this machine. */
  Codec codec(String mediaType) {
    return switch (mediaType) {
      case DiffService.OCI_LAYER_GZIP -> gzip(IsalDeflater.available());
      case DiffService.OCI_LAYER_ZSTD -> new Codec("zstd", "zstd-jni", ZSTD_LEVEL);
      default -> Codec.NONE;
    };
  }

  /** What the start-up log says of this setting: the gzip codec, and why ISA-L is not used. */
  String describe() {
    boolean isal = IsalDeflater.available();
    return gzip(isal)
        + (this == FAST && !isal
            ? " (ISA-L is not used: " + IsalDeflater.unavailableReason() + ")"
            : "")
        + ", zstd level "
        + ZSTD_LEVEL
        + ": --diff-compression "
        + this;
  }

  /** A stream that compresses what is written to it with {@code codec} into {@code out}. */
  static OutputStream compressor(Codec codec, OutputStream out) throws IOException {
    return switch (codec.format()) {
      // On every core: a large layer's commit is bound by deflate.
      case "gzip" ->
          new ParallelGzipOutputStream(
              out, codec.isal(), codec.level(), Runtime.getRuntime().availableProcessors());
      case "zstd" -> new ZstdOutputStream(out, codec.level());
      default -> out;
    };
  }
}
