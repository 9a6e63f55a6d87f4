package io.layerd.driver.fuseoverlayfs;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.StagedDirectories;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The fuse-overlayfs driver: overlay2's layout, mounted by the {@code fuse-overlayfs} binary
 * instead of the kernel, so that it works for root and for an unprivileged user inside a user
 * namespace (Linux 4.18+ allows FUSE mounts there).
 *
 * <p>On-disk layout, in the driver's home ({@code <data-root>/fuse-overlayfs/}):
 *
 * <pre>
 *   &lt;id&gt;/diff/     the layer's own changes: the engine applies its tar here; the upperdir of a
 *                   read-write layer's mount, the top lowerdir of a read-only layer's mount
 *   &lt;id&gt;/work/     fuse-overlayfs's workdir (same filesystem as diff/)
 *   &lt;id&gt;/lower     the parent chain, nearest first, as ids joined by ':' (absent for a base layer)
 *   &lt;id&gt;/empty/    an empty lowerdir for a base layer's read-write mount (fuse-overlayfs needs one)
 *   +creating-&lt;id&gt;-&lt;random&gt;/, +removing-&lt;id&gt;-&lt;random&gt;/
 *                   a layer being made or removed ('+' is never in an id); removed on open
 *                   ({@link StagedDirectories})
 * </pre>
 *
 * <p>Mounts (as data; the engine runs {@code fuse-overlayfs -o OPTIONS TARGET}): a read-write layer
 * is {@code lowerdir=PARENT/diff:GRANDPARENT/diff...,upperdir=ID/diff,workdir=ID/work}; a read-only
 * one is {@code lowerdir=ID/diff:PARENT/diff...,ro} (no upper: fuse-overlayfs is then read-only).
 * Options {@code fuse-overlayfs.uidmapping} and {@code fuse-overlayfs.gidmapping} add
 * fuse-overlayfs's {@code uidmapping=}/{@code gidmapping=} when the stored ids must be shifted.
 * Unlike overlay2 there are no short links: the options travel on a command line (128 KiB per
 * argument), not in mount(2)'s one page.
 *
 * <p>Deletions are written in the form fuse-overlayfs honours and itself writes: a 0/0 character
 * device for a deleted file, and for an opaque directory {@code trusted.overlay.opaque=y} as real
 * root or {@code user.overlay.opaque=y} in a user namespace (read by fuse-overlayfs 1.8+).
 */
final class FuseOverlayfsDriver implements Driver {
  static final String NAME = "fuse-overlayfs";

  /** The engine's Mounter runs the helper named after "fuse.": {@code fuse-overlayfs}. */
  static final String MOUNT_TYPE = "fuse.fuse-overlayfs";

  static final String UIDMAPPING_OPTION = NAME + ".uidmapping";
  static final String GIDMAPPING_OPTION = NAME + ".gidmapping";

  /** Linux's MAX_ARG_STRLEN: the longest single argument exec(2) takes (32 pages). */
  static final int MAX_ARGUMENT = 131072 - 1;

  private static final String DIFF = "diff";
  private static final String WORK = "work";
  private static final String LOWER = "lower";
  private static final String EMPTY = "empty";
  private static final String CREATING = "+creating-";
  private static final String REMOVING = "+removing-";

  private static final Pattern ID_MAPPING = Pattern.compile("\\d+:\\d+:\\d+(?::\\d+:\\d+:\\d+)*");

  private final Path home;
  private final StagedDirectories staged;
  private final Host host;
  private final DeletionForm form;
  private final List<String> extraOptions;

  private FuseOverlayfsDriver(Path home, Host host, List<String> extraOptions) {
    this.home = home;
    this.staged = StagedDirectories.beside(home, CREATING, REMOVING);
    this.host = host;
    this.form = formFor(host);
    this.extraOptions = List.copyOf(extraOptions);
  }

  /** Opens the driver on its home: checks options and the home's path, clears left-overs. */
  static FuseOverlayfsDriver open(DriverContext ctx) throws DriverRefusal, IOException {
    List<String> extra = mountOptions(ctx.options());
    Path home = ctx.home().toAbsolutePath();
    checkPath(home);
    Files.createDirectories(home);
    FuseOverlayfsDriver d = new FuseOverlayfsDriver(home, ctx.host(), extra);
    d.staged.clearLeftOvers();
    return d;
  }

  /**
   * The deletion form for this host: {@code trusted.overlay.*} as real root, {@code user.overlay.*}
   * otherwise (trusted.* xattrs are refused in a user namespace).
   */
  static DeletionForm formFor(Host host) {
    return host.realRoot() ? DeletionForm.OVERLAY_TRUSTED : DeletionForm.OVERLAY_USER;
  }

  /** The xattr that marks an opaque directory in {@code form}. */
  static String opaqueXattr(DeletionForm form) {
    return form == DeletionForm.OVERLAY_TRUSTED ? "trusted.overlay.opaque" : "user.overlay.opaque";
  }

  /**
   * The mount options that the driver's options add: {@code uidmapping=} and {@code gidmapping=}
   * (fuse-overlayfs's syntax, {@code CONTAINER:HOST:COUNT[:CONTAINER:HOST:COUNT...]}). Unknown
   * {@code fuse-overlayfs.*} options are an error.
   */
  static List<String> mountOptions(Map<String, String> options) throws IOException {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, String> e : options.entrySet()) {
      String key = e.getKey();
      if (!key.startsWith(NAME + ".")) {
        continue;
      }
      if (!key.equals(UIDMAPPING_OPTION) && !key.equals(GIDMAPPING_OPTION)) {
        throw new IOException(
            "unknown storage option '"
                + key
                + "': fuse-overlayfs takes "
                + UIDMAPPING_OPTION
                + " and "
                + GIDMAPPING_OPTION);
      }
      if (!ID_MAPPING.matcher(e.getValue()).matches()) {
        throw new IOException(
            "storage option "
                + key
                + "='"
                + e.getValue()
                + "' is not a mapping CONTAINER:HOST:COUNT[:CONTAINER:HOST:COUNT...]");
      }
    }
    // Fixed order, whatever the map's.
    if (options.containsKey(UIDMAPPING_OPTION)) {
      out.add("uidmapping=" + options.get(UIDMAPPING_OPTION));
    }
    if (options.containsKey(GIDMAPPING_OPTION)) {
      out.add("gidmapping=" + options.get(GIDMAPPING_OPTION));
    }
    return out;
  }

  /**
   * fuse-overlayfs splits lowerdir at ':' and its options at ',' (before 1.15 without an escape): a
   * home whose path holds either (or a backslash) cannot be mounted.
   */
  static void checkPath(Path home) throws DriverRefusal {
    String s = home.toString();
    for (char c : new char[] {':', ',', '\\'}) {
      if (s.indexOf(c) >= 0) {
        throw new DriverRefusal(
            NAME,
            DriverRefusal.Kind.NOT_SUPPORTED,
            "the data-root path "
                + s
                + " holds '"
                + c
                + "', which fuse-overlayfs cannot take in lowerdir/upperdir options: choose a"
                + " data-root without ':', ',' or '\\'");
      }
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<Capability> capabilities() {
    Set<Capability> c =
        EnumSet.of(
            Capability.ROOTLESS,
            Capability.COPY_ON_WRITE,
            Capability.NEEDS_MOUNT,
            Capability.XATTRS);
    if (host.realRoot()) {
      c.add(Capability.DEVICES); // mknod of devices needs real root
    }
    return c;
  }

  @Override
  public DeletionForm deletionForm() {
    return form;
  }

  private Path layer(String id) {
    return home.resolve(LayerIds.check(id));
  }

  private Path existing(String id) throws IOException {
    Path p = layer(id);
    if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      throw new NoSuchFileException(p.toString(), null, "no fuse-overlayfs layer " + id);
    }
    return p;
  }

  @Override
  public void create(String id, String parent, boolean readWrite) throws IOException {
    Path target = layer(id);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileAlreadyExistsException(target.toString(), null, "layer " + id + " exists");
    }
    List<String> chain = new ArrayList<>();
    if (parent != null) {
      existing(parent);
      chain.add(parent);
      chain.addAll(lowerChain(parent));
    }
    staged.create(
        id,
        stage -> {
          Path tmp = stage.path();
          Files.createDirectory(tmp.resolve(DIFF));
          Files.setPosixFilePermissions(
              tmp.resolve(DIFF), PosixFilePermissions.fromString("rwxr-xr-x"));
          Files.createDirectory(
              tmp.resolve(WORK),
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
          if (parent != null) {
            sameRootAs(home.resolve(parent).resolve(DIFF), tmp.resolve(DIFF));
          }
          if (chain.isEmpty()) {
            Files.createDirectory(tmp.resolve(EMPTY));
            Files.setPosixFilePermissions(
                tmp.resolve(EMPTY), PosixFilePermissions.fromString("r-xr-xr-x"));
          } else {
            Files.write(
                tmp.resolve(LOWER), String.join(":", chain).getBytes(StandardCharsets.UTF_8));
          }
        });
  }

  /**
   * Gives a child's diff directory its parent's root owner and mode: the upper (or top lower)
   * directory's root is the mounted root, which must look like the parent's until the layer changes
   * it (as a copying driver's child would).
   */
  private static void sameRootAs(Path parentDiff, Path diff) throws IOException {
    Stat st = Sys.lstat(parentDiff.toString());
    byte[] p = Names.bytes(diff.toString());
    Sys.fchownat(Sys.AT_FDCWD, p, st.uid(), st.gid(), Sys.AT_SYMLINK_NOFOLLOW);
    Sys.fchmodat(Sys.AT_FDCWD, p, st.permissions(), 0);
  }

  /** The ids below {@code id}, nearest first. */
  List<String> lowerChain(String id) throws IOException {
    Path f = existing(id).resolve(LOWER);
    if (!Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    String s = Files.readString(f, StandardCharsets.UTF_8).strip();
    List<String> out = new ArrayList<>();
    for (String p : s.split(":")) {
      out.add(LayerIds.check(p));
    }
    return out;
  }

  @Override
  public void remove(String id) throws IOException {
    // Renamed first, so that a crash part-way leaves a '+removing-' left-over, never half a layer.
    staged.remove(LayerIds.check(id));
  }

  @Override
  public boolean exists(String id) {
    return Files.isDirectory(layer(id), LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public Path diffDirectory(String id) throws IOException {
    return existing(id).resolve(DIFF);
  }

  @Override
  public List<Mount> mounts(String id, boolean readOnly) throws IOException {
    Path layer = existing(id);
    List<String> chain = lowerChain(id);
    List<String> lowers = new ArrayList<>();
    if (readOnly) {
      lowers.add(layer.resolve(DIFF).toString());
    }
    for (String p : chain) {
      lowers.add(home.resolve(p).resolve(DIFF).toString());
    }
    if (lowers.isEmpty()) {
      lowers.add(layer.resolve(EMPTY).toString());
    }
    List<String> options = new ArrayList<>();
    options.add("lowerdir=" + String.join(":", lowers));
    if (!readOnly) {
      options.add("upperdir=" + layer.resolve(DIFF));
      options.add("workdir=" + layer.resolve(WORK));
    }
    options.addAll(extraOptions);
    if (readOnly) {
      options.add("ro");
    }
    Mount m = new Mount(MOUNT_TYPE, NAME, options);
    int length = m.optionString().getBytes(StandardCharsets.UTF_8).length;
    if (length > MAX_ARGUMENT) {
      throw new IOException(
          "layer "
              + id
              + " has "
              + chain.size()
              + " parents: its fuse-overlayfs options take "
              + length
              + " bytes, over the "
              + MAX_ARGUMENT
              + " of one command-line argument");
    }
    return List.of(m);
  }

  @Override
  public List<Map.Entry<String, String>> status() throws IOException {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    out.add(Map.entry("Backing Filesystem", host.filesystems().probe(home).backingName()));
    Optional<Path> bin = host.binary(NAME);
    String version;
    if (bin.isEmpty()) {
      version = "not installed";
    } else {
      try {
        version = FuseOverlayfsVersion.of(bin.get()) + " (" + bin.get() + ")";
      } catch (IOException e) {
        version = "unknown (" + bin.get() + ": " + e.getMessage() + ")";
      }
    }
    out.add(Map.entry("fuse-overlayfs", version));
    out.add(
        Map.entry(
            "Whiteouts", "0/0 character devices, " + opaqueXattr(form) + " on opaque directories"));
    if (!extraOptions.isEmpty()) {
      out.add(Map.entry("Id mapping", String.join(",", extraOptions)));
    }
    return out;
  }

  @Override
  public Map<String, String> metadata(String id) throws IOException {
    Path layer = existing(id);
    Map<String, String> m = new LinkedHashMap<>();
    List<String> chain = lowerChain(id);
    if (!chain.isEmpty()) {
      List<String> lowers = new ArrayList<>();
      for (String p : chain) {
        lowers.add(home.resolve(p).resolve(DIFF).toString());
      }
      m.put("LowerDir", String.join(":", lowers));
    }
    m.put("UpperDir", layer.resolve(DIFF).toString());
    m.put("WorkDir", layer.resolve(WORK).toString());
    return m;
  }
}
