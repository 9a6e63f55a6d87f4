package io.layerd.daemon.containerd;

import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Mount;
import io.layerd.sys.StatFs;
import java.util.List;

/**
 * How a snapshot prepared with {@link IdMapLabels} gets its files owned through the mapping.
 *
 * <p><b>Idmapped lower layers</b> ({@link Kind#IDMAPPED_LOWERS}): the snapshot's overlay mount is
 * returned with containerd's own {@code uidmap=} and {@code gidmap=} options (the lower directories
 * as real paths) and its upper directory's root given to the mapped root. containerd 2.x performs
 * the mount (core/mount/mount_linux.go): from those options it makes a user namespace of the maps,
 * clones the lower directories' common parent with {@code open_tree}, sets {@code MOUNT_ATTR_IDMAP}
 * on the clone and mounts overlay on the idmapped paths ({@code prepareIDMappedOverlay}); its
 * overlayfs snapshotter relies on exactly that. layerd makes no mount and no native call for it,
 * and nothing is copied: the image's layers stay as they are, shared by every mapping. Possible
 * where that mount can be made:
 *
 * <ul>
 *   <li>every mount of the snapshot is a kernel overlay mount (overlay2): containerd idmaps a bind
 *       mount only when it is read-write (a read-only bind returns before the idmap step in 2.1),
 *       and a FUSE mount (fuse-overlayfs) or a btrfs subvolume is not overlay;
 *   <li>Linux 5.19 or newer (overlayfs on idmapped lower layers; containerd's own check,
 *       overlayutils.SupportsIDMappedMounts, asks for the same);
 *   <li>real root (idmapped mounts of a filesystem need CAP_SYS_ADMIN in the user namespace that
 *       owns it: the initial one for a disk);
 *   <li>the layers' filesystem allows idmapped mounts: ext4 and xfs (5.12), btrfs (5.15), tmpfs
 *       (6.3).
 * </ul>
 *
 * <p><b>A shifted copy</b> ({@link Kind#SHIFTED_COPY}) everywhere else: the parent's whole tree,
 * copied once per parent and mapping into a base layer of its own with every owner mapped, and
 * shared by every snapshot prepared on that parent with that mapping; it goes with the last of
 * them.
 *
 * @param kind the method
 * @param reason why (for the log): what made idmapped lower layers impossible, or the conditions
 *     met
 */
record RemapMethod(RemapMethod.Kind kind, String reason) {
  enum Kind {
    IDMAPPED_LOWERS,
    SHIFTED_COPY
  }

  /** The containerd capability that says a snapshotter maps ids itself (containerd's name). */
  static final String CAPABILITY = "remap-ids";

  /** The method for a snapshot whose mounts (as the driver gives them) are {@code mounts}. */
  static RemapMethod choose(Host host, FsInfo layers, List<Mount> mounts) {
    for (Mount m : mounts) {
      if (!m.type().equals("overlay")) {
        return copy(
            "the snapshot's mount is "
                + m.type()
                + ", and containerd idmaps the lower layers of overlay mounts only");
      }
    }
    if (mounts.isEmpty()) {
      return copy("the snapshot is a plain directory, not an overlay mount");
    }
    if (!host.kernel().atLeast(5, 19)) {
      return copy("Linux " + host.kernel() + " is older than 5.19 (overlayfs on idmapped layers)");
    }
    if (!host.realRoot()) {
      return copy("layerd is not real root (idmapped mounts need it)");
    }
    String fs = idmappableFilesystem(host, layers);
    if (fs == null) {
      return copy(
          "the layers' filesystem ("
              + layers.backingName()
              + ") does not allow idmapped mounts on Linux "
              + host.kernel());
    }
    return new RemapMethod(
        Kind.IDMAPPED_LOWERS, "overlay on " + fs + ", Linux " + host.kernel() + ", real root");
  }

  /**
   * The filesystem's name when it allows idmapped mounts on this kernel (FS_ALLOW_IDMAP), else
   * null.
   */
  static String idmappableFilesystem(Host host, FsInfo fs) {
    long magic = fs.magic();
    if (magic == StatFs.EXT4_SUPER_MAGIC || magic == StatFs.XFS_SUPER_MAGIC) {
      return fs.backingName();
    }
    if (magic == StatFs.BTRFS_SUPER_MAGIC && host.kernel().atLeast(5, 15)) {
      return fs.backingName();
    }
    if (magic == StatFs.TMPFS_MAGIC && host.kernel().atLeast(6, 3)) {
      return fs.backingName();
    }
    return null;
  }

  /**
   * The capabilities layerd's snapshotter declares to containerd (a proxy plugin's come only from
   * containerd's config, {@code [proxy_plugins.NAME] capabilities = [...]}): {@value #CAPABILITY}
   * when layerd runs as root in its user namespace (real root, or root of rootlesskit's or its own
   * namespace), which every remapping needs: idmapped lower layers where {@link #choose} allows
   * them, a shifted copy (chown to the mapped ids) elsewhere. A plain user cannot chown, and then
   * containerd's client must not ask.
   */
  static List<String> capabilities(boolean rootInNamespace) {
    return rootInNamespace ? List.of(CAPABILITY) : List.of();
  }

  private static RemapMethod copy(String why) {
    return new RemapMethod(Kind.SHIFTED_COPY, why);
  }
}
