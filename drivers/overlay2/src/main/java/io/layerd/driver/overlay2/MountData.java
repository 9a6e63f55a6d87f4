package io.layerd.driver.overlay2;

import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The overlay mount of one layer, as data, and the arithmetic that keeps it within the one page of
 * option data that mount(2) copies.
 *
 * <p>Lower directories are named by their short links ({@code l/LINK}, {@value #LINK_LENGTH}
 * characters, see {@link Layout}), top-most first. Two forms:
 *
 * <ul>
 *   <li><b>absolute</b> (preferred, readable in /proc/self/mountinfo): {@code
 *       lowerdir=HOME/l/A:HOME/l/B,upperdir=HOME/ID/diff,workdir=HOME/ID/work,...}. Each lower
 *       costs {@code len(HOME) + 1 + 2 + 20 + 1} bytes: 48 for {@code /var/lib/layerd/overlay2},
 *       and the rest ({@code lowerdir=}, upperdir, workdir and the feature options) 79 + 2 ×
 *       len(HOME) + 2 × len(ID), so 79 lowers fit with Docker's ids (64 hex, 69 with "-init"). No
 *       link length makes 128 absolute lowers fit under a realistic home: {@code 128 × (24 + 4) =
 *       3584} bytes go to the path around the link names before the names themselves.
 *   <li><b>relative</b> (when the absolute form is over a page, or HOME holds a character overlay
 *       would split at: {@code : , \}): the same paths relative to HOME, {@code
 *       lowerdir=l/A:l/B,upperdir=ID/diff,workdir=ID/work,...}, with {@link
 *       Mount#workingDirectory()} = HOME: the engine performs the mount from there (on a thread of
 *       its own; see {@code Mounter}). Each lower costs {@code 2 + 20 + 1 = 23} bytes whatever HOME
 *       is.
 * </ul>
 *
 * <p>The page budget of the relative form, read-write, N lowers: {@code lowerdir=} (9) + 23 × N − 1
 * + {@code ,upperdir=ID/diff} (15 + len(ID)) + {@code ,workdir=ID/work} (14 + len(ID)) + {@code
 * ,index=off,redirect_dir=off,metacopy=off} (40) = 77 + 2 × len(ID) + 23 × N ≤ 4095. With Docker's
 * ids (69 characters at most) that allows N = (4095 − 215) / 23 = 168 lowers; with the longest id
 * layerd accepts (200 characters, {@code LayerIds.MAX_LENGTH}) N = (4095 − 477) / 23 = 157. So any
 * chain of 128 layers fits, with room; {@link Overlay2Driver#create} refuses a layer whose mount
 * would not fit, before anything is made. The kernel's own limit is 500 lower layers ({@code
 * OVL_MAX_STACK} in fs/overlayfs/params.h, super.c before Linux 6.5), out of reach of a page of
 * mount(2) data (Linux 6.8+ can pass more through fsconfig's {@code lowerdir+}, which layerd does
 * not use).
 */
final class MountData {
  private MountData() {}

  /** Characters of a short link name (base32, 100 random bits). */
  static final int LINK_LENGTH = 20;

  /** The most bytes of option data mount(2) takes: a page, with its terminating NUL. */
  static final int MAX_DATA = Mounter.MAX_DATA;

  /** The kernel's limit on lower layers: OVL_MAX_STACK (fs/overlayfs/params.h). */
  static final int KERNEL_MAX_LOWERS = 500;

  /**
   * The mount showing layer {@code id}: read-write with its diff/ as the upper directory, or
   * read-only with its own diff/ as the top lower directory (Docker gets image layers read-only,
   * for save). A layer without parents gets {@link Layout#EMPTY} as its lower: overlay needs at
   * least one lower, and two when there is no upper directory.
   *
   * @param parentLinks the short links of the parent chain, nearest parent first (the {@code lower}
   *     file)
   */
  static Mount mount(
      Path home,
      String id,
      String ownLink,
      List<String> parentLinks,
      boolean readOnly,
      OverlayMode mode)
      throws IOException {
    String prefix = home.toString() + "/";
    if (!needsEscaping(prefix)) {
      Mount absolute = build(prefix, id, ownLink, parentLinks, readOnly, mode, null);
      if (dataLength(absolute) <= MAX_DATA) {
        return absolute;
      }
    }
    Mount relative = build("", id, ownLink, parentLinks, readOnly, mode, home.toString());
    int n = dataLength(relative);
    if (n > MAX_DATA) {
      throw new IOException(tooLong(id, parentLinks.size(), n));
    }
    return relative;
  }

  /**
   * Null when layer {@code id} on {@code parentLinks} can be mounted (read-write or read-only as
   * asked), else why not: more lowers than the kernel takes, or more than a page of data even in
   * the relative form.
   */
  static String checkFits(String id, List<String> parentLinks, boolean readOnly, OverlayMode mode) {
    int lowers = parentLinks.size() + (readOnly ? 1 : 0);
    if (lowers > KERNEL_MAX_LOWERS) {
      return "layer "
          + id
          + " would have "
          + lowers
          + " lower layers, over the kernel's limit of "
          + KERNEL_MAX_LOWERS
          + " (OVL_MAX_STACK)";
    }
    int n =
        dataLength(build("", id, fakeLink(), parentLinks, readOnly, mode, "/working-directory"));
    return n <= MAX_DATA ? null : tooLong(id, parentLinks.size(), n);
  }

  /**
   * True for a home whose path overlay would split ({@code :} between lowers, {@code ,} between
   * options, {@code \} escapes): such a home always takes the relative form, whose paths hold only
   * link names, layer ids and {@code .empty}.
   */
  static boolean needsEscaping(String path) {
    return path.indexOf(':') >= 0 || path.indexOf(',') >= 0 || path.indexOf('\\') >= 0;
  }

  private static String fakeLink() {
    return "X".repeat(LINK_LENGTH);
  }

  private static String tooLong(String id, int parents, int bytes) {
    return "layer "
        + id
        + " is "
        + (parents + 1)
        + " layers deep: its overlay mount needs "
        + bytes
        + " bytes of options even with relative short links, over the "
        + MAX_DATA
        + " that mount(2) takes (one page); a shorter chain (squash the image) or shorter layer ids"
        + " would fit";
  }

  private static Mount build(
      String prefix,
      String id,
      String ownLink,
      List<String> parentLinks,
      boolean readOnly,
      OverlayMode mode,
      String workingDirectory) {
    List<String> lowers = new ArrayList<>();
    if (readOnly) {
      lowers.add(prefix + Layout.LINKS + "/" + ownLink);
    }
    for (String l : parentLinks) {
      lowers.add(prefix + Layout.LINKS + "/" + l);
    }
    if (parentLinks.isEmpty()) {
      lowers.add(prefix + Layout.EMPTY);
    }
    List<String> options = new ArrayList<>();
    options.add("lowerdir=" + String.join(":", lowers));
    if (!readOnly) {
      String dir = prefix + Layout.dirName(id) + "/";
      options.add("upperdir=" + dir + Layout.DIFF);
      options.add("workdir=" + dir + Layout.WORK);
    }
    options.addAll(mode.options());
    if (readOnly) {
      options.add("ro");
    }
    return new Mount("overlay", "overlay", options, workingDirectory);
  }

  /** The bytes of option data mount(2) gets for {@code m}, as the engine's Mounter counts them. */
  static int dataLength(Mount m) {
    List<String> data = new ArrayList<>();
    for (String o : m.options()) {
      if (!FLAGS.contains(o)) {
        data.add(o);
      }
    }
    return String.join(",", data).getBytes(StandardCharsets.UTF_8).length;
  }

  /** Options the Mounter turns into mount flags rather than data. */
  private static final List<String> FLAGS =
      List.of("ro", "rw", "nosuid", "nodev", "noexec", "bind", "rbind");
}
