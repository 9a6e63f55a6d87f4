package io.layerd.driver.overlay2;

import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import io.layerd.sys.DirEntry;
import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the probe checks, for real, before overlay2 may serve a data-root; the driver runs the same
 * check when it opens. In order:
 *
 * <ol>
 *   <li>privileges: real root, or a user namespace on Linux 5.11+ (where overlay learnt to mount in
 *       a user namespace, with {@code userxattr}): else PREREQUISITES_MISSING;
 *   <li>the backing filesystem (of the driver's home, or of the data-root when the home does not
 *       exist yet): overlayfs itself (overlay-on-overlay: an overlay upper directory cannot hold
 *       whiteouts and xattrs for another overlay), aufs, ecryptfs and NFS are refused as
 *       INCOMPATIBLE_FILESYSTEM;
 *   <li>the home's markers: layers made as real root ({@code trusted.overlay.*}) cannot be read in
 *       a user namespace, nor the other way round: PREREQUISITES_MISSING;
 *   <li>d_type: a scratch directory's entries must report their file types (overlay needs them; xfs
 *       formatted with ftype=0 does not): else INCOMPATIBLE_FILESYSTEM;
 *   <li>a real mount in the scratch directory: two lower directories, an upper and a work
 *       directory, with this driver's options, performed from a working directory as deep chains
 *       are (see {@link MountData}). Through it: both lowers are seen; a deleted file becomes a 0/0
 *       character device and a re-made directory gets {@code <prefix>opaque} (the form the applier
 *       writes); a renamed directory is not recorded as a redirect and a chmod is not a
 *       metadata-only copy — when either is, the upper directory is not a complete record of a
 *       layer, and the native diff is turned off, with the reason, instead of refusing.
 * </ol>
 *
 * The scratch directory ({@code .overlay2-probe-*} in the home, or in the data-root) is unmounted
 * and removed before the check returns; one left by a crash is removed when the driver opens.
 */
final class OverlayCheck {
  private OverlayCheck() {}

  static final String NAME = "overlay2";

  /** What the check found. */
  record Result(
      OverlayMode mode,
      String backingFilesystem,
      boolean nativeDiff,
      String nativeDiffReason,
      List<String> reasons) {
    Result {
      reasons = List.copyOf(reasons);
    }
  }

  /** Whether the entries of a directory report their types (d_type); replaceable in tests. */
  @FunctionalInterface
  interface DTypeCheck {
    boolean supportsDType(Path scratch) throws IOException;
  }

  /** The real d_type check: a file and a directory made in {@code scratch}, read back. */
  static final DTypeCheck REAL_DTYPE =
      scratch -> {
        Path d = scratch.resolve("dtype");
        Files.createDirectory(d);
        Files.createDirectory(d.resolve("dir"));
        Files.createFile(d.resolve("file"));
        try (Fd fd = Sys.openDirectory(d.toString())) {
          for (DirEntry e : Sys.readDirectory(fd.get())) {
            if (e.type() == Sys.DT_UNKNOWN) {
              return false;
            }
          }
        }
        return true;
      };

  /** The rules that need no files: privileges and kernel, the backing filesystem, the markers. */
  static OverlayMode rules(DriverContext ctx, Path moduleParameters)
      throws DriverRefusal, IOException {
    Host host = ctx.host();
    if (host.inUserNamespace()) {
      if (!host.kernel().atLeast(5, 11)) {
        throw new DriverRefusal(
            NAME,
            DriverRefusal.Kind.PREREQUISITES_MISSING,
            "overlay mounts in a user namespace need Linux 5.11 or newer (the userxattr option);"
                + " this kernel is "
                + host.kernel()
                + ". Use fuse-overlayfs rootless, or run layerd as real root");
      }
    } else if (!host.root()) {
      throw new DriverRefusal(
          NAME,
          DriverRefusal.Kind.PREREQUISITES_MISSING,
          "mounting overlay needs real root, or a user namespace (rootless layerd runs itself in"
              + " one); this process is neither");
    }
    Path where = probeBase(ctx);
    FsInfo fs = host.filesystems().probe(where);
    String refusedFs = refusedFilesystem(fs);
    if (refusedFs != null) {
      throw new DriverRefusal(
          NAME,
          DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM,
          where
              + " is on "
              + refusedFs
              + (fs.mountPoint().isEmpty() ? "" : " (mounted at " + fs.mountPoint() + ")")
              + ", which overlay cannot use for its upper and work directories"
              + (refusedFs.startsWith("overlay") ? " (overlay-on-overlay)" : "")
              + ". Put the data-root on ext4, xfs (ftype=1) or btrfs"
              + (refusedFs.startsWith("overlay")
                  ? " (in a container: a volume on the host's filesystem)"
                  : ""));
    }
    OverlayMode mode = OverlayMode.detect(host.inUserNamespace(), moduleParameters);
    checkMarkers(ctx.home(), mode);
    return mode;
  }

  /** Why a filesystem cannot back overlay layers, or null when it may (the mount test decides). */
  static String refusedFilesystem(FsInfo fs) {
    long m = fs.magic();
    String t = fs.type();
    if (m == StatFs.OVERLAYFS_SUPER_MAGIC || t.equals("overlay")) {
      return "overlayfs";
    }
    if (m == StatFs.AUFS_SUPER_MAGIC || t.equals("aufs")) {
      return "aufs";
    }
    if (m == StatFs.ECRYPTFS_SUPER_MAGIC || t.equals("ecryptfs")) {
      return "ecryptfs";
    }
    if (fs.isNfs()) {
      return "NFS";
    }
    return null;
  }

  /** Refuses a home whose layers carry the other mode's markers. */
  static void checkMarkers(Path home, OverlayMode mode) throws DriverRefusal, IOException {
    Path marker = home.resolve(Layout.XATTR_NAMESPACE);
    if (!Files.exists(marker, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    String have = Layout.read(marker);
    String want = markerText(mode);
    if (!have.equals(want)) {
      throw new DriverRefusal(
          NAME,
          DriverRefusal.Kind.PREREQUISITES_MISSING,
          "the overlay2 layers in "
              + home
              + " mark opaque directories with "
              + have
              + ".* xattrs, but "
              + (mode.userxattr()
                  ? "in a user namespace overlay reads user.overlay.* (userxattr): open this"
                      + " data-root as real root, or use another data-root rootless"
                  : "as real root overlay reads trusted.overlay.*: open this data-root rootless"
                      + " again, or use another data-root"));
    }
  }

  static String markerText(OverlayMode mode) {
    return mode.userxattr() ? "user.overlay" : "trusted.overlay";
  }

  /** Where the probe works: the home when it exists, else the data-root. */
  static Path probeBase(DriverContext ctx) throws IOException {
    if (Files.isDirectory(ctx.home())) {
      return ctx.home();
    }
    if (!Files.isDirectory(ctx.dataRoot())) {
      throw new java.nio.file.NoSuchFileException(
          ctx.dataRoot().toString(), null, "the data-root does not exist (yet)");
    }
    return ctx.dataRoot();
  }

  /** Every check, the test mount included. */
  static Result run(DriverContext ctx, Path moduleParameters, DTypeCheck dtype)
      throws DriverRefusal, IOException {
    OverlayMode mode = rules(ctx, moduleParameters);
    Host host = ctx.host();
    Path base = probeBase(ctx);
    FsInfo fs = host.filesystems().probe(base);
    Path scratch = Files.createTempDirectory(base, Layout.PROBE_PREFIX);
    try {
      if (!dtype.supportsDType(scratch)) {
        throw new DriverRefusal(
            NAME,
            DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM,
            base
                + " is on "
                + fs.backingName()
                + ", which does not report file types in directory entries (d_type), and"
                + " overlay needs them (xfs made with ftype=0 is the usual case: reformat it"
                + " with mkfs.xfs -n ftype=1, or move the data-root)");
      }
      if (!Files.isDirectory(moduleParameters)) {
        // The module is not loaded yet (the first overlay mount loads it): load it, so that the
        // options follow what it has from the very first mount on.
        loadModule(scratch);
        mode = OverlayMode.detect(host.inUserNamespace(), moduleParameters);
      }
      TestMount t = testMount(scratch, mode);
      List<String> reasons = new ArrayList<>();
      reasons.add("Linux " + host.kernel() + ", " + mode.describe());
      reasons.add("backing filesystem " + fs.backingName() + " (" + base + ") reports d_type");
      reasons.add(
          "a test mount of two lower directories in "
              + base
              + " worked; whiteouts and opaque directories take the form the applier writes");
      reasons.add(
          t.nativeDiff
              ? "native diff: the upper directory is a complete record of a layer"
              : "no native diff: " + t.reason + " (Changes and Diff compare whole trees)");
      return new Result(mode, fs.backingName(), t.nativeDiff, t.reason, reasons);
    } finally {
      removeScratch(scratch);
    }
  }

  private record TestMount(boolean nativeDiff, String reason) {}

  /**
   * A read-only overlay mount of two empty directories, which makes the kernel load the overlay
   * module; a failure is left for the real test mount to report.
   */
  private static void loadModule(Path scratch) throws IOException {
    Path dir = Files.createDirectory(scratch.resolve("load"));
    for (String d : List.of("a", "b", "m")) {
      Files.createDirectory(dir.resolve(d));
    }
    Path target = dir.resolve("m");
    try {
      Mounter.mount(
          List.of(new Mount("overlay", "overlay", List.of("lowerdir=a:b", "ro"), dir.toString())),
          target);
      Mounter.unmount(target);
    } catch (IOException e) {
      // reported by the test mount
    }
  }

  private static TestMount testMount(Path scratch, OverlayMode mode)
      throws DriverRefusal, IOException {
    for (String d : List.of("lower1", "lower2", "upper", "work", "merged")) {
      Files.createDirectory(scratch.resolve(d));
    }
    Path lower1 = scratch.resolve("lower1");
    Path lower2 = scratch.resolve("lower2");
    Files.writeString(lower2.resolve("a"), "a");
    Files.createDirectories(lower2.resolve("d"));
    Files.writeString(lower2.resolve("d/x"), "x");
    Files.createDirectories(lower2.resolve("r"));
    Files.writeString(lower2.resolve("r/y"), "y");
    Files.writeString(lower2.resolve("m"), "m");
    Files.writeString(lower1.resolve("b"), "b");
    List<String> options = new ArrayList<>();
    options.add("lowerdir=lower1:lower2");
    options.add("upperdir=upper");
    options.add("workdir=work");
    options.addAll(mode.options());
    Mount m = new Mount("overlay", "overlay", options, scratch.toString());
    Path merged = scratch.resolve("merged");
    try {
      Mounter.mount(List.of(m), merged);
    } catch (IOException e) {
      throw refusal(e, m);
    }
    try {
      for (String f : List.of("a", "b", "d/x")) {
        if (!Files.exists(merged.resolve(f), LinkOption.NOFOLLOW_LINKS)) {
          throw new DriverRefusal(
              NAME,
              DriverRefusal.Kind.NOT_SUPPORTED,
              "a test overlay mount of two lower directories does not show " + f);
        }
      }
      Path upper = scratch.resolve("upper");
      Files.delete(merged.resolve("a"));
      if (!Sys.lstat(upper.resolve("a").toString()).isWhiteoutDevice()) {
        throw new DriverRefusal(
            NAME,
            DriverRefusal.Kind.NOT_SUPPORTED,
            "overlay did not record a deleted file as a 0/0 character device in the upper"
                + " directory");
      }
      Files.delete(merged.resolve("d/x"));
      Files.delete(merged.resolve("d"));
      Files.createDirectory(merged.resolve("d"));
      byte[] opaque = Sys.lgetxattr(Names.bytes(upper.resolve("d").toString()), mode.opaqueXattr());
      if (opaque == null || !new String(opaque, StandardCharsets.UTF_8).equals("y")) {
        throw new DriverRefusal(
            NAME,
            DriverRefusal.Kind.NOT_SUPPORTED,
            "overlay did not mark a re-made directory with " + mode.opaqueXattr() + "=y");
      }
      // Native diff: a renamed directory must not become a redirect, a chmod not a metacopy.
      try {
        Sys.renameat2(
            Sys.AT_FDCWD,
            Names.bytes(merged.resolve("r").toString()),
            Sys.AT_FDCWD,
            Names.bytes(merged.resolve("r2").toString()),
            0);
        byte[] redirect =
            Sys.lgetxattr(
                Names.bytes(upper.resolve("r2").toString()), mode.xattrPrefix() + "redirect");
        if (redirect != null) {
          return new TestMount(
              false,
              "this kernel records renamed directories as redirects (redirect_dir is on and"
                  + " cannot be turned off here), so upper directories are incomplete");
        }
      } catch (IOException e) {
        if (NativeFailure.errnoOf(e) != Errno.EXDEV) {
          throw e;
        }
        // EXDEV: redirect_dir is off; tools copy such a directory instead.
      }
      Sys.fchmodat(Sys.AT_FDCWD, Names.bytes(merged.resolve("m").toString()), 0600, 0);
      byte[] metacopy =
          Sys.lgetxattr(
              Names.bytes(upper.resolve("m").toString()), mode.xattrPrefix() + "metacopy");
      if (metacopy != null) {
        return new TestMount(
            false,
            "this kernel copies up metadata only (metacopy is on and cannot be turned off here),"
                + " so upper directories are incomplete");
      }
      return new TestMount(true, "");
    } finally {
      Mounter.unmount(merged);
    }
  }

  private static DriverRefusal refusal(IOException e, Mount m) {
    Errno errno = NativeFailure.errnoOf(e);
    String what = "a test overlay mount (" + m.optionString() + ") failed: " + e.getMessage();
    if (errno == Errno.ENODEV) {
      return new DriverRefusal(
          NAME,
          DriverRefusal.Kind.NOT_SUPPORTED,
          "this kernel has no overlay filesystem (modprobe overlay, as root): " + what);
    }
    if (errno == Errno.EPERM || errno == Errno.EACCES) {
      return new DriverRefusal(
          NAME,
          DriverRefusal.Kind.PREREQUISITES_MISSING,
          "mounting overlay is not permitted here (in a container: it needs CAP_SYS_ADMIN, or a"
              + " user namespace of its own): "
              + what);
    }
    return new DriverRefusal(
        NAME,
        DriverRefusal.Kind.NOT_SUPPORTED,
        what + " (the kernel log, dmesg, says why overlay refused it)");
  }

  /** Unmounts and removes a probe's scratch directory (one of this run, or left by a crash). */
  static void removeScratch(Path scratch) throws IOException {
    Mounter.unmount(scratch.resolve("merged"));
    Mounter.unmount(scratch.resolve("load/m"));
    Path parent = scratch.getParent();
    try (Fd d = Sys.openDirectory(parent.toString())) {
      Trees.removeAll(d.get(), scratch.getFileName().toString());
    }
  }
}
