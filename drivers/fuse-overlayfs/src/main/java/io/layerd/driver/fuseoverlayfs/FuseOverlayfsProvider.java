package io.layerd.driver.fuseoverlayfs;

import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import io.layerd.engine.spi.Probe;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Finds and opens the fuse-overlayfs driver (priority 20: after overlay2, before btrfs and vfs).
 *
 * <p>The probe checks, and names every one that is missing: the {@code fuse-overlayfs} binary on
 * the PATH; its version ({@code fuse-overlayfs --version}: 1.1+ as root, 1.8+ in a user namespace,
 * where the engine marks opaque directories with {@code user.overlay.opaque}); Linux 4.18+ when not
 * real root (the first kernel to allow FUSE mounts in a user namespace); that {@code /dev/fuse}
 * opens read-write. Then it mounts for real in the driver's home: a lower directory with two files
 * and a directory, an upper one with a 0/0 character device over one file and the opaque xattr on
 * the directory, exactly as the engine writes them; the mount must hide both, and a write through
 * it must land in the upper directory. It leaves nothing behind (the home is removed again when the
 * probe made it).
 */
public final class FuseOverlayfsProvider implements DriverProvider {
  /** The FUSE device the probe opens. */
  static final Path FUSE_DEVICE = Path.of("/dev/fuse");

  private static final String DEBIAN_PACKAGE = "Debian: apt-get install fuse-overlayfs";

  private final Path fuseDevice;

  /** The provider {@link java.util.ServiceLoader} makes. */
  public FuseOverlayfsProvider() {
    this(FUSE_DEVICE);
  }

  /** A provider whose probe opens another device (tests). */
  FuseOverlayfsProvider(Path fuseDevice) {
    this.fuseDevice = fuseDevice;
  }

  @Override
  public String name() {
    return FuseOverlayfsDriver.NAME;
  }

  @Override
  public int priority() {
    return 20;
  }

  /** The binary the probe ran (and its version): a new or removed one means probing again. */
  @Override
  public List<String> probeInputs(DriverContext context) {
    Optional<Path> binary = context.host().binary(name());
    if (binary.isEmpty()) {
      return List.of("no-binary");
    }
    try {
      java.nio.file.attribute.BasicFileAttributes a =
          java.nio.file.Files.readAttributes(
              binary.get(), java.nio.file.attribute.BasicFileAttributes.class);
      return List.of(binary.get() + ":" + a.size() + ":" + a.lastModifiedTime().toMillis());
    } catch (IOException e) {
      return List.of(binary.get() + ":unreadable");
    }
  }

  @Override
  public Probe probe(DriverContext context) throws DriverRefusal, IOException {
    Host host = context.host();
    List<String> extra = FuseOverlayfsDriver.mountOptions(context.options());
    FuseOverlayfsDriver.checkPath(context.home().toAbsolutePath());
    boolean realRoot = host.realRoot();
    if (!host.root() && !host.inUserNamespace()) {
      throw new DriverRefusal(
          name(),
          DriverRefusal.Kind.NOT_SUPPORTED,
          "uid "
              + Sys.geteuid()
              + " is neither root nor root of a user namespace: the engine cannot write"
              + " fuse-overlayfs's whiteouts (0/0 character devices) here; run rootless (in a user"
              + " namespace) or as root");
    }
    List<String> reasons = new ArrayList<>();
    List<String> missing = new ArrayList<>();

    Optional<Path> binary = host.binary(name());
    if (binary.isEmpty()) {
      missing.add("the fuse-overlayfs binary is not on the PATH (" + DEBIAN_PACKAGE + ")");
    } else {
      FuseOverlayfsVersion min =
          realRoot ? FuseOverlayfsVersion.MIN_ROOT : FuseOverlayfsVersion.MIN_USER_NAMESPACE;
      try {
        FuseOverlayfsVersion v = FuseOverlayfsVersion.of(binary.get());
        if (v.atLeast(min)) {
          reasons.add("fuse-overlayfs " + v + " at " + binary.get() + " (" + min + "+ needed)");
        } else {
          missing.add(
              "fuse-overlayfs "
                  + v
                  + " at "
                  + binary.get()
                  + " is older than "
                  + min
                  + (realRoot
                      ? ", the first to accept the 'ro' option"
                      : ", the first to read user.overlay.opaque (needed in a user namespace)")
                  + " ("
                  + DEBIAN_PACKAGE
                  + " from Debian 12 or later)");
        }
      } catch (IOException e) {
        missing.add(
            "fuse-overlayfs at "
                + binary.get()
                + " does not tell its version: "
                + e.getMessage()
                + " ("
                + DEBIAN_PACKAGE
                + ")");
      }
    }

    if (realRoot) {
      reasons.add("kernel " + host.kernel() + " (running as root)");
    } else if (host.kernel().atLeast(4, 18)) {
      reasons.add("kernel " + host.kernel() + " allows FUSE mounts in a user namespace (4.18+)");
    } else {
      missing.add(
          "kernel "
              + host.kernel()
              + " is older than 4.18, the first to allow FUSE mounts in a user namespace");
    }

    String device = deviceProblem();
    if (device == null) {
      reasons.add(fuseDevice + " opens read-write");
    } else {
      missing.add(device);
    }

    if (!missing.isEmpty()) {
      throw new DriverRefusal(
          name(), DriverRefusal.Kind.PREREQUISITES_MISSING, String.join("; ", missing));
    }
    reasons.add(testMount(context, FuseOverlayfsDriver.formFor(host), extra));
    return new Probe(reasons);
  }

  /** Null when the FUSE device opens read-write, else what is wrong, with the remedy. */
  String deviceProblem() {
    try {
      Sys.close(Sys.open(fuseDevice.toString(), Sys.O_RDWR, 0));
      return null;
    } catch (NoSuchFileException e) {
      return fuseDevice
          + " does not exist (load the FUSE module with modprobe fuse, Debian: apt-get install fuse3)";
    } catch (AccessDeniedException e) {
      String mode = "";
      try {
        Stat st = Sys.fstatat(Sys.AT_FDCWD, Names.bytes(fuseDevice.toString()), 0);
        mode = String.format(" (mode %04o, owner %d)", st.permissions(), st.uid());
      } catch (IOException ignored) {
        // the mode is only a hint
      }
      return fuseDevice
          + " cannot be opened read-write by uid "
          + Sys.geteuid()
          + mode
          + ": "
          + NativeFailure.errnoOf(e)
          + " (as root, let users open it: chmod 0666 "
          + fuseDevice
          + ", or a udev rule)";
    } catch (IOException e) {
      return fuseDevice + " cannot be opened read-write: " + e.getMessage();
    }
  }

  /**
   * Mounts a lower and an upper directory holding the engine's deletion form and checks that
   * fuse-overlayfs obeys it; returns the reason to report, or refuses.
   */
  private String testMount(DriverContext context, DeletionForm form, List<String> extra)
      throws DriverRefusal, IOException {
    Path home = context.home().toAbsolutePath();
    boolean madeHome = !Files.exists(home, LinkOption.NOFOLLOW_LINKS);
    Files.createDirectories(home);
    String name = "+probe-" + UUID.randomUUID();
    Path dir = home.resolve(name);
    String opaque = FuseOverlayfsDriver.opaqueXattr(form);
    try {
      Path lower = dir.resolve("lower");
      Path upper = dir.resolve("upper");
      Path merged = dir.resolve("merged");
      Files.createDirectories(lower.resolve("opaque"));
      Files.createDirectories(upper);
      Files.createDirectories(dir.resolve("work"));
      Files.createDirectories(merged);
      Files.write(lower.resolve("deleted"), new byte[] {'x'});
      Files.write(lower.resolve("kept"), new byte[] {'x'});
      Files.write(lower.resolve("opaque").resolve("hidden"), new byte[] {'x'});
      try (Fd u = Sys.openDirectory(upper.toString())) {
        Sys.mknodat(u.get(), Names.bytes("deleted"), Sys.S_IFCHR, 0, 0);
        Sys.mkdirat(u.get(), Names.bytes("opaque"), 0755);
        Sys.lsetxattrAt(
            u.get(), Names.bytes("opaque"), opaque, "y".getBytes(StandardCharsets.US_ASCII), 0);
      } catch (IOException e) {
        throw refuse(home, "the engine cannot write the deletion form here: " + e.getMessage());
      }
      List<String> options = new ArrayList<>();
      options.add("lowerdir=" + lower);
      options.add("upperdir=" + upper);
      options.add("workdir=" + dir.resolve("work"));
      options.addAll(extra);
      try {
        Mounter.mount(List.of(new Mount(FuseOverlayfsDriver.MOUNT_TYPE, name(), options)), merged);
      } catch (IOException e) {
        throw refuse(home, e.getMessage());
      }
      String wrong;
      try {
        wrong = check(merged, upper, opaque);
      } finally {
        Mounter.unmount(merged);
      }
      if (wrong != null) {
        throw refuse(home, wrong);
      }
      return "a test mount in "
          + home
          + " works, with deletions as 0/0 character devices and "
          + opaque;
    } finally {
      try (Fd h = Sys.openDirectory(home.toString())) {
        Trees.removeAll(h.get(), name);
      }
      if (madeHome) {
        Files.deleteIfExists(home);
      }
    }
  }

  /**
   * Null when the mount obeys the markers and writes to the upper directory, else what is wrong.
   */
  private static String check(Path merged, Path upper, String opaque) throws IOException {
    if (Files.exists(merged.resolve("deleted"), LinkOption.NOFOLLOW_LINKS)) {
      return "fuse-overlayfs shows a file deleted by a 0/0 character device";
    }
    if (!Files.exists(merged.resolve("kept"), LinkOption.NOFOLLOW_LINKS)) {
      return "fuse-overlayfs does not show a file of its lower directory";
    }
    if (Files.exists(merged.resolve("opaque").resolve("hidden"), LinkOption.NOFOLLOW_LINKS)) {
      return "fuse-overlayfs ignores " + opaque + " (an opaque directory shows lower files)";
    }
    Files.write(merged.resolve("written"), new byte[] {'x'});
    if (!Files.exists(upper.resolve("written"), LinkOption.NOFOLLOW_LINKS)) {
      return "a file written through fuse-overlayfs is not in its upper directory";
    }
    return null;
  }

  private DriverRefusal refuse(Path home, String why) {
    return new DriverRefusal(
        name(), DriverRefusal.Kind.NOT_SUPPORTED, "a test mount in " + home + " failed: " + why);
  }

  @Override
  public Driver open(DriverContext context) throws DriverRefusal, IOException {
    return FuseOverlayfsDriver.open(context);
  }
}
