package io.layerd.driver.vfs;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.StagedDirectories;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The vfs driver: every layer is a full copy of its parent, made when the layer is created, so a
 * layer's directory is its whole filesystem and nothing is ever mounted. Slow and large, but it
 * works everywhere, as root and rootless, on any filesystem.
 *
 * <p>On-disk layout, in its home {@code <data-root>/vfs/} (as Docker's vfs, plus staging):
 *
 * <pre>
 * vfs/dir/&lt;id&gt;/            a layer's whole tree (the root's owner, mode, xattrs and times are
 *                          the parent's, or 0755 and the caller's ids for a base layer)
 * vfs/staging/&lt;id&gt;.&lt;rand&gt;/  a layer being copied from its parent, renamed into dir/ when whole
 *                          (RENAME_NOREPLACE); or, as removing.&lt;id&gt;.&lt;rand&gt;/, a removed
 *                          layer on its way out ({@link StagedDirectories})
 * </pre>
 *
 * <p>Whatever is left in {@code staging/} (a copy or a removal cut short by a crash) is removed
 * when the driver opens. File content is shared by reflink (FICLONE) where the filesystem offers it
 * (btrfs, xfs with reflink=1), else copied in the kernel with copy_file_range; see {@link
 * TreeCopier}.
 *
 * <p>Deletions need no marker ({@link DeletionForm#ABSENT}): a file deleted by a layer is simply
 * not in its copy.
 */
public final class VfsDriver implements Driver {
  /** The driver's name. */
  public static final String NAME = "vfs";

  private final Path home;
  private final Path dir;
  private final StagedDirectories staged;
  private final boolean reflinks;
  private final String reflinkProblem;
  private final FsInfo backing;
  private final Set<Capability> capabilities;
  private final TreeCopier copier;
  private final AtomicLong refusedXattrs = new AtomicLong();

  private VfsDriver(
      Path home, FsInfo backing, String reflinkProblem, Set<Capability> capabilities) {
    this.home = home;
    this.dir = home.resolve("dir");
    this.staged = StagedDirectories.inDirectory(dir, home.resolve("staging"));
    this.backing = backing;
    this.reflinkProblem = reflinkProblem;
    this.reflinks = reflinkProblem == null;
    this.capabilities = Set.copyOf(capabilities);
    this.copier = new TreeCopier(TreeCopier.defaultThreads(), reflinks);
  }

  /**
   * Opens the driver in its home (made by the engine): makes {@code dir/} and {@code staging/}, and
   * removes what a crash left in {@code staging/}.
   */
  static VfsDriver open(DriverContext context) throws IOException {
    Path home = context.home();
    Files.createDirectories(home.resolve("dir"));
    Files.createDirectories(home.resolve("staging"));
    String problem;
    try (Fd h = Sys.openDirectory(home.toString())) {
      problem = TreeCopier.reflinkProblem(h.get());
    }
    EnumSet<Capability> caps = EnumSet.of(Capability.ROOTLESS, Capability.XATTRS);
    if (context.host().realRoot()) {
      caps.add(Capability.DEVICES); // mknod of devices needs real root
    }
    VfsDriver d = new VfsDriver(home, context.host().filesystems().probe(home), problem, caps);
    d.staged.clearLeftOvers();
    return d;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<Capability> capabilities() {
    return capabilities;
  }

  @Override
  public DeletionForm deletionForm() {
    return DeletionForm.ABSENT;
  }

  /**
   * Makes the layer in {@code staging/}: an empty 0755 directory for a base layer, else a full copy
   * of the parent's tree; then renames it into {@code dir/}. A failure leaves nothing.
   */
  @Override
  public void create(String id, String parent, boolean readWrite) throws IOException {
    LayerIds.check(id);
    if (parent != null) {
      LayerIds.check(parent);
    }
    if (exists(id)) {
      throw new java.nio.file.FileAlreadyExistsException(
          dir.resolve(id).toString(), null, "vfs layer " + id + " already exists");
    }
    try (Fd d = Sys.openDirectory(dir.toString())) {
      staged.create(
          id,
          stage -> {
            if (parent == null) {
              Sys.fchmod(stage.fd(), 0755);
              return;
            }
            try (Fd p = openLayer(d.get(), parent)) {
              TreeCopier.Result r = copier.copy(p.get(), stage.fd());
              refusedXattrs.addAndGet(r.refusedXattrs());
              if (r.refusedXattrs() > 0) {
                System.getLogger(VfsDriver.class.getName())
                    .log(
                        System.Logger.Level.WARNING,
                        "vfs layer {0}: {1} extended attribute(s) of its parent {2} could not be"
                            + " copied: {3}",
                        id,
                        r.refusedXattrs(),
                        parent,
                        String.join("; ", r.warnings()));
              }
            }
          });
    }
  }

  private static Fd openLayer(int dirFd, String id) throws IOException {
    try {
      return new Fd(
          Sys.openat(dirFd, Names.bytes(id), Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0));
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(
          e.getFile(), null, "vfs layer " + id + " does not exist (" + e.getReason() + ")");
    }
  }

  /**
   * Removes a layer: renames it into {@code staging/} first (so that a removal cut short never
   * leaves half a layer under its id), then removes it there without following any symlink.
   */
  @Override
  public void remove(String id) throws IOException {
    LayerIds.check(id);
    staged.remove(id);
  }

  @Override
  public boolean exists(String id) {
    LayerIds.check(id);
    return Files.isDirectory(dir.resolve(id), LinkOption.NOFOLLOW_LINKS);
  }

  /** {@code dir/<id>}: the layer's whole tree. */
  @Override
  public Path diffDirectory(String id) throws IOException {
    if (!exists(id)) {
      throw new NoSuchFileException(dir.resolve(id).toString(), null, "no vfs layer " + id);
    }
    return dir.resolve(id);
  }

  /** None: the layer's directory is its whole filesystem. */
  @Override
  public List<Mount> mounts(String id, boolean readOnly) throws IOException {
    diffDirectory(id);
    return List.of();
  }

  @Override
  public List<Map.Entry<String, String>> status() {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    out.add(Map.entry("Backing Filesystem", backing.backingName()));
    out.add(
        Map.entry(
            "Copy Method",
            reflinks
                ? "reflink (FICLONE)"
                : "copy_file_range (no reflinks: " + reflinkProblem + ")"));
    out.add(Map.entry("Copy Threads", Integer.toString(TreeCopier.defaultThreads())));
    out.add(Map.entry("Refused Xattrs", Long.toString(refusedXattrs.get())));
    return out;
  }

  @Override
  public Map<String, String> metadata(String id) throws IOException {
    return Map.of("Dir", diffDirectory(id).toString());
  }

  /** True when layers share file content with their parent by reflink. */
  public boolean reflinks() {
    return reflinks;
  }

  /** The driver's home, {@code <data-root>/vfs}. */
  public Path home() {
    return home;
  }

  @Override
  public void close() {
    copier.close();
  }
}
