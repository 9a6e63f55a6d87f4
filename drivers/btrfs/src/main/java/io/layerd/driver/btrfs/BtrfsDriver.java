package io.layerd.driver.btrfs;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The btrfs driver: a subvolume per base layer, and for each child a writable snapshot of its
 * parent, made and removed by ioctls through {@link Sys} (no btrfs-progs at run time).
 *
 * <p>On-disk layout, in the driver's home ({@code <data-root>/btrfs/}, which must be on btrfs):
 *
 * <pre>
 *   subvolumes/&lt;id&gt;/   the layer's whole filesystem: a subvolume (base layer) or a snapshot of
 *                      the parent's subvolume (child layer); the engine applies the layer's tar
 *                      straight into it, deleting whited-out files
 * </pre>
 *
 * <p>No mounts: a subvolume is visible as a directory, so {@link #mounts} is empty and the engine's
 * Get returns {@link #diffDirectory}. Deletions are the absence of the file ({@link
 * DeletionForm#ABSENT}). Removal is BTRFS_IOC_SNAP_DESTROY on {@code subvolumes/}; when the kernel
 * refuses it (an unprivileged user without {@code user_subvol_rm_allowed}), the subvolume is
 * emptied without following symlinks and removed with rmdir(2) (Linux 4.18+ lets the owner rmdir an
 * empty subvolume).
 */
final class BtrfsDriver implements Driver {
  static final String NAME = "btrfs";
  static final String SUBVOLUMES = "subvolumes";

  /** The mount option that lets unprivileged users destroy subvolumes by ioctl. */
  static final String USER_SUBVOL_RM_ALLOWED = "user_subvol_rm_allowed";

  private final Path home;
  private final Path subvolumes;
  private final Host host;

  private BtrfsDriver(Path home, Host host) {
    this.home = home;
    this.subvolumes = home.resolve(SUBVOLUMES);
    this.host = host;
  }

  static BtrfsDriver open(DriverContext ctx) throws IOException {
    Path home = ctx.home().toAbsolutePath();
    BtrfsDriver d = new BtrfsDriver(home, ctx.host());
    Files.createDirectories(d.subvolumes);
    return d;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<Capability> capabilities() {
    Set<Capability> c =
        EnumSet.of(Capability.ROOTLESS, Capability.COPY_ON_WRITE, Capability.XATTRS);
    if (host.realRoot()) {
      c.add(Capability.DEVICES); // mknod of devices needs real root
    }
    return c;
  }

  @Override
  public DeletionForm deletionForm() {
    return DeletionForm.ABSENT;
  }

  private Path subvolume(String id) {
    return subvolumes.resolve(LayerIds.check(id));
  }

  @Override
  public void create(String id, String parent, boolean readWrite) throws IOException {
    Path target = subvolume(id);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException(target.toString(), null, "layer " + id + " exists");
    }
    try (Fd dir = Sys.openDirectory(subvolumes.toString())) {
      if (parent == null) {
        Subvolumes.create(dir.get(), id);
      } else {
        if (!exists(parent)) {
          throw new NoSuchFileException(
              subvolume(parent).toString(), null, "no btrfs layer " + parent);
        }
        Subvolumes.snapshot(dir.get(), parent, dir.get(), id);
      }
    }
  }

  @Override
  public void remove(String id) throws IOException {
    String checked = LayerIds.check(id);
    try (Fd dir = Sys.openDirectory(subvolumes.toString())) {
      Subvolumes.remove(dir.get(), checked);
    }
  }

  @Override
  public boolean exists(String id) {
    return Files.isDirectory(subvolume(id), LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public Path diffDirectory(String id) throws IOException {
    Path p = subvolume(id);
    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(p.toString(), null, "no btrfs layer " + id);
    }
    return p;
  }

  @Override
  public List<Mount> mounts(String id, boolean readOnly) throws IOException {
    diffDirectory(id);
    return List.of();
  }

  @Override
  public List<Map.Entry<String, String>> status() throws IOException {
    FsInfo fs = host.filesystems().probe(home);
    List<Map.Entry<String, String>> out = new ArrayList<>();
    out.add(Map.entry("Backing Filesystem", fs.backingName()));
    out.add(Map.entry("Subvolume removal", removal(host, fs)));
    return out;
  }

  /** How this host removes subvolumes, for humans. */
  static String removal(Host host, FsInfo fs) {
    if (host.realRoot()) {
      return "BTRFS_IOC_SNAP_DESTROY (root)";
    }
    if (fs.hasOption(USER_SUBVOL_RM_ALLOWED)) {
      return "BTRFS_IOC_SNAP_DESTROY (" + USER_SUBVOL_RM_ALLOWED + " is set)";
    }
    return "emptied, then rmdir (" + USER_SUBVOL_RM_ALLOWED + " is not set; Linux 4.18+)";
  }

  @Override
  public Map<String, String> metadata(String id) throws IOException {
    return Map.of("Subvolume", diffDirectory(id).toString());
  }
}
