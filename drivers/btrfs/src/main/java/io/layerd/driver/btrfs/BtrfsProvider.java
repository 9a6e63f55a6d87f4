package io.layerd.driver.btrfs;

import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Fd;
import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Finds and opens the btrfs driver (priority 30: after overlay2 and fuse-overlayfs, before vfs).
 *
 * <p>The probe: the data-root must be on btrfs (statfs magic {@code 0x9123683e}, through the host's
 * filesystem probe), else an incompatible-filesystem refusal naming the filesystem it is on. As an
 * unprivileged user (a user namespace) removal needs Linux 4.18+ (rmdir of an emptied subvolume) or
 * the {@code user_subvol_rm_allowed} mount option (read from the mount's super options); the probe
 * says which applies. Then, for real, in the driver's home: a subvolume is created with a file in
 * it, snapshotted, the file is checked in the snapshot, and both are removed the way the driver
 * removes layers. Nothing is left behind (the home is removed again when the probe made it).
 */
public final class BtrfsProvider implements DriverProvider {
  @Override
  public String name() {
    return BtrfsDriver.NAME;
  }

  @Override
  public int priority() {
    return 30;
  }

  @Override
  public Probe probe(DriverContext context) throws DriverRefusal, IOException {
    Host host = context.host();
    FsInfo fs = host.filesystems().probe(context.dataRoot());
    if (fs.magic() != StatFs.BTRFS_SUPER_MAGIC) {
      String on = fs.type().isEmpty() ? fs.backingName() : fs.type();
      throw new DriverRefusal(
          name(),
          DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM,
          "data-root is on " + on + ", not btrfs");
    }
    List<String> reasons = new ArrayList<>();
    reasons.add(
        "data-root is on btrfs"
            + (fs.source().isEmpty() ? "" : " (" + fs.source() + " at " + fs.mountPoint() + ")"));
    boolean rmAllowed = fs.hasOption(BtrfsDriver.USER_SUBVOL_RM_ALLOWED);
    if (host.realRoot()) {
      reasons.add("removal by BTRFS_IOC_SNAP_DESTROY (root)");
    } else if (rmAllowed) {
      reasons.add(
          "removal by BTRFS_IOC_SNAP_DESTROY: "
              + BtrfsDriver.USER_SUBVOL_RM_ALLOWED
              + " is set on "
              + fs.mountPoint());
    } else if (host.kernel().atLeast(4, 18)) {
      reasons.add(
          BtrfsDriver.USER_SUBVOL_RM_ALLOWED
              + " is not set on "
              + fs.mountPoint()
              + ": removal empties a subvolume and removes it with rmdir (kernel "
              + host.kernel()
              + ", 4.18+)");
    } else {
      throw new DriverRefusal(
          name(),
          DriverRefusal.Kind.PREREQUISITES_MISSING,
          "an unprivileged user cannot remove subvolumes here: kernel "
              + host.kernel()
              + " is older than 4.18 (which lets the owner rmdir an empty subvolume) and "
              + (fs.mountPoint().isEmpty() ? "the btrfs filesystem" : fs.mountPoint())
              + " is not mounted with "
              + BtrfsDriver.USER_SUBVOL_RM_ALLOWED
              + " (as root: mount -o remount,"
              + BtrfsDriver.USER_SUBVOL_RM_ALLOWED
              + " "
              + (fs.mountPoint().isEmpty() ? "MOUNTPOINT" : fs.mountPoint())
              + ")");
    }
    reasons.add(trySubvolumes(context.home().toAbsolutePath()));
    return new Probe(reasons);
  }

  /** Creates, fills, snapshots and removes a subvolume in {@code home}; refuses when it fails. */
  private String trySubvolumes(Path home) throws DriverRefusal, IOException {
    boolean madeHome = !Files.exists(home, LinkOption.NOFOLLOW_LINKS);
    Files.createDirectories(home);
    String base = "+probe-" + UUID.randomUUID();
    String snap = base + "-snapshot";
    List<Subvolumes.Removal> removals = new ArrayList<>();
    try (Fd dir = Sys.openDirectory(home.toString())) {
      try {
        Subvolumes.create(dir.get(), base);
        Files.write(home.resolve(base).resolve("file"), "x".getBytes(StandardCharsets.US_ASCII));
        Subvolumes.snapshot(dir.get(), base, dir.get(), snap);
        if (!Files.isRegularFile(home.resolve(snap).resolve("file"), LinkOption.NOFOLLOW_LINKS)) {
          throw refuse(home, "a snapshot does not hold its source's file");
        }
      } catch (IOException e) {
        throw refuse(home, e.getMessage());
      } finally {
        try {
          removals.add(Subvolumes.remove(dir.get(), snap));
          removals.add(Subvolumes.remove(dir.get(), base));
        } finally {
          if (madeHome) {
            Files.deleteIfExists(home);
          }
        }
      }
    }
    String how =
        removals.contains(Subvolumes.Removal.RMDIR)
            ? "removal (emptied, then rmdir)"
            : "removal (BTRFS_IOC_SNAP_DESTROY)";
    return "subvolume create, snapshot and " + how + " work in " + home;
  }

  private DriverRefusal refuse(Path home, String why) {
    return new DriverRefusal(
        name(),
        DriverRefusal.Kind.NOT_SUPPORTED,
        "btrfs subvolumes cannot be made in " + home + ": " + why);
  }

  @Override
  public Driver open(DriverContext context) throws DriverRefusal, IOException {
    return BtrfsDriver.open(context);
  }
}
