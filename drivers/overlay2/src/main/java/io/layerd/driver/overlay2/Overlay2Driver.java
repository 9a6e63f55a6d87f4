package io.layerd.driver.overlay2;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.StagedDirectories;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The overlay2 driver: each layer is a directory of its own changes (diff/), shown with its
 * parents' through one overlay mount. The on-disk layout is in {@link Layout}, the mount shapes and
 * their page arithmetic in {@link MountData}, the checks in {@link OverlayCheck}, the native diff
 * in {@link UpperChanges}; docs/drivers/overlay2.md says it all for humans.
 *
 * <p>Mounts: read-write {@code lowerdir=<parents' links>,upperdir=ID/diff,workdir=ID/work};
 * read-only (Docker gets image layers for save) {@code lowerdir=<own link>:<parents' links>} with
 * no upper directory; a layer without parents has the shared empty directory {@code .empty} as its
 * lowest lower, so that even a base layer is seen through overlay (whiteouts a base layer's tar
 * holds are hidden, and a read-only base layer really is read-only).
 */
final class Overlay2Driver implements Driver {
  private final Layout layout;
  private final StagedDirectories staged;
  private final OverlayMode mode;
  private final OverlayCheck.Result check;

  private Overlay2Driver(Layout layout, OverlayCheck.Result check) {
    this.layout = layout;
    this.staged =
        StagedDirectories.beside(layout.home(), Layout.STAGING_PREFIX, Layout.REMOVING_PREFIX);
    this.mode = check.mode();
    this.check = check;
  }

  /**
   * Checks the host for real (as the probe does), prepares the home and cleans up after a crash.
   */
  static Overlay2Driver open(
      DriverContext ctx, Path moduleParameters, OverlayCheck.DTypeCheck dtype)
      throws DriverRefusal, IOException {
    for (String key : ctx.options().keySet()) {
      if (key.startsWith("overlay2.")) {
        throw new IOException(
            "overlay2: unknown storage option '" + key + "' (overlay2 takes no options)");
      }
    }
    Files.createDirectories(ctx.home());
    OverlayCheck.Result check = OverlayCheck.run(ctx, moduleParameters, dtype);
    Layout layout = new Layout(ctx.home());
    makeDirectory(layout.links(), "rwx------");
    makeDirectory(ctx.home().resolve(Layout.EMPTY), "rwxr-xr-x");
    Path marker = ctx.home().resolve(Layout.XATTR_NAMESPACE);
    if (!Files.exists(marker, LinkOption.NOFOLLOW_LINKS)) {
      Files.writeString(marker, OverlayCheck.markerText(check.mode()) + "\n");
    }
    Overlay2Driver d = new Overlay2Driver(layout, check);
    d.recover();
    return d;
  }

  private static void makeDirectory(Path p, String mode) throws IOException {
    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectory(p);
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
    }
  }

  /** Removes what a crash left: half-made and half-removed layers, probe mounts, dangling links. */
  private void recover() throws IOException {
    staged.clearLeftOvers();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.home())) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (n.startsWith(Layout.PROBE_PREFIX)) {
          // A probe's, left by a crash; one younger than a minute may be another process's
          // (layerctl driver probe) still at work: it goes at the next open.
          long age = System.currentTimeMillis() - Files.getLastModifiedTime(p).toMillis();
          if (age > 60_000) {
            OverlayCheck.removeScratch(p);
          }
        }
      }
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.links())) {
      for (Path p : ds) {
        if (!Files.exists(p)) { // a link whose layer is gone (or was never published)
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  public String name() {
    return OverlayCheck.NAME;
  }

  @Override
  public Set<Capability> capabilities() {
    Set<Capability> c =
        EnumSet.of(Capability.ROOTLESS, Capability.COPY_ON_WRITE, Capability.NEEDS_MOUNT);
    if (check.nativeDiff()) {
      c.add(Capability.NATIVE_DIFF);
    }
    if (!mode.userxattr()) {
      // Real root: mknod of devices, and xattrs of every namespace (trusted.* included).
      c.add(Capability.DEVICES);
      c.add(Capability.XATTRS);
    }
    return c;
  }

  @Override
  public DeletionForm deletionForm() {
    return mode.deletionForm();
  }

  Layout layout() {
    return layout;
  }

  @Override
  public void create(String id, String parent, boolean readWrite) throws IOException {
    if (Files.exists(layout.layer(id), LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException("overlay2 layer " + id + " already exists");
    }
    List<String> parentLinks = new ArrayList<>();
    Stat parentRoot = null;
    if (parent != null) {
      if (!layout.exists(parent)) {
        throw new NoSuchFileException("overlay2 parent layer " + parent + " does not exist");
      }
      parentLinks.add(layout.link(parent));
      parentLinks.addAll(layout.lowerLinks(parent));
      parentRoot = Sys.lstat(layout.diff(parent).toString());
    }
    String tooDeep = MountData.checkFits(id, parentLinks, !readWrite, mode);
    if (tooDeep != null) {
      throw new IOException(tooDeep);
    }
    String name = newLink(id);
    Path link = layout.links().resolve(name);
    Stat root = parentRoot;
    try {
      staged.create(
          Layout.dirName(id),
          stage -> {
            Path diff = stage.path().resolve(Layout.DIFF);
            Files.createDirectory(diff);
            if (root != null) {
              // The merged root shows the upper root's mode and owner: keep the parent's.
              Sys.fchownat(Sys.AT_FDCWD, Names.bytes(diff.toString()), root.uid(), root.gid(), 0);
              Sys.fchmodat(Sys.AT_FDCWD, Names.bytes(diff.toString()), root.permissions(), 0);
            } else {
              Files.setPosixFilePermissions(diff, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            makeDirectory(stage.path().resolve(Layout.WORK), "rwx------");
            makeDirectory(stage.path().resolve(Layout.MERGED), "rwx------");
            if (!parentLinks.isEmpty()) {
              Files.writeString(
                  stage.path().resolve(Layout.LOWER), Layout.formatLower(parentLinks));
            }
            Files.writeString(stage.path().resolve(Layout.LINK), name);
          });
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(link);
      } catch (IOException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
  }

  /** Makes {@code l/LINK -> ../ID/diff} with a fresh random name (a clash is retried). */
  private String newLink(String id) throws IOException {
    byte[] target = Names.bytes("../" + Layout.dirName(id) + "/" + Layout.DIFF);
    try (Fd links = Sys.openDirectory(layout.links().toString())) {
      for (int attempt = 0; ; attempt++) {
        String name = Layout.newLink();
        try {
          Sys.symlinkat(target, links.get(), Names.bytes(name));
          return name;
        } catch (FileAlreadyExistsException e) {
          if (attempt >= 8) {
            throw e;
          }
        }
      }
    }
  }

  @Override
  public void remove(String id) throws IOException {
    Path dir = layout.layer(id);
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    String link = null;
    try {
      link = layout.link(id);
    } catch (IOException e) {
      // a damaged or missing link file: the dangling link goes when the driver next opens
    }
    // Out of sight first (a crash leaves a .removing-* directory, removed on open); a crash
    // before the link goes leaves it dangling, and dangling links are removed on open too.
    staged.remove(Layout.dirName(id));
    if (link != null) {
      Path l = layout.links().resolve(link);
      try {
        if (layout.idOfLink(link).equals(id)) {
          Files.delete(l);
        }
      } catch (NoSuchFileException e) {
        // already gone
      }
    }
  }

  @Override
  public boolean exists(String id) {
    return layout.exists(id);
  }

  @Override
  public Path diffDirectory(String id) throws IOException {
    if (!layout.exists(id)) {
      throw new NoSuchFileException("overlay2 layer " + id + " does not exist");
    }
    return layout.diff(id);
  }

  @Override
  public List<Mount> mounts(String id, boolean readOnly) throws IOException {
    if (!layout.exists(id)) {
      throw new NoSuchFileException("overlay2 layer " + id + " does not exist");
    }
    return List.of(
        MountData.mount(layout.home(), id, layout.link(id), layout.lowerLinks(id), readOnly, mode));
  }

  /**
   * The layer's changes read from its upper directory ({@link UpperChanges}), when the native diff
   * is on here and {@code parent} is the layer's own parent; else empty (the engine compares the
   * trees).
   */
  @Override
  public Optional<List<Change>> nativeChanges(String id, String parent) throws IOException {
    if (!check.nativeDiff()) {
      return Optional.empty();
    }
    if (!Objects.equals(layout.parentOf(id), parent)) {
      return Optional.empty();
    }
    return Optional.of(
        UpperChanges.read(layout.diff(id), layout.lowerDiffs(id), mode.xattrPrefix()));
  }

  @Override
  public List<Map.Entry<String, String>> status() {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    out.add(Map.entry("Backing Filesystem", check.backingFilesystem()));
    out.add(Map.entry("Supports d_type", "true"));
    out.add(Map.entry("Using metacopy", "false"));
    out.add(
        Map.entry(
            "Native Overlay Diff",
            check.nativeDiff()
                ? "true"
                : "false ("
                    + check.nativeDiffReason()
                    + "; Changes and Diff compare whole trees)"));
    out.add(Map.entry("userxattr", Boolean.toString(mode.userxattr())));
    return out;
  }

  @Override
  public Map<String, String> metadata(String id) throws IOException {
    if (!layout.exists(id)) {
      throw new NoSuchFileException("overlay2 layer " + id + " does not exist");
    }
    Map<String, String> m = new LinkedHashMap<>();
    List<String> lowers = new ArrayList<>();
    for (Path p : layout.lowerDiffs(id)) {
      lowers.add(p.toString());
    }
    if (!lowers.isEmpty()) {
      m.put("LowerDir", String.join(":", lowers));
    }
    m.put("UpperDir", layout.diff(id).toString());
    m.put("WorkDir", layout.work(id).toString());
    return m;
  }
}
