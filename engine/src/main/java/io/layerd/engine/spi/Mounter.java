package io.layerd.engine.spi;

import io.layerd.sys.Errno;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Performs the mounts drivers describe. Kernel filesystems and bind mounts go through mount(2);
 * {@code fuse.HELPER} mounts run the helper binary ({@code HELPER -o OPTIONS TARGET}), which
 * daemonizes once the filesystem is up.
 */
public final class Mounter {
  /** mount(2) copies at most one page of option data. */
  public static final int MAX_DATA = 4095;

  private Mounter() {}

  /** Mounts every mount in order at {@code target}. */
  public static void mount(List<Mount> mounts, Path target) throws IOException {
    for (Mount m : mounts) {
      mountOne(m, target);
    }
  }

  private static void mountOne(Mount m, Path target) throws IOException {
    if (m.type().startsWith("fuse.") || m.type().startsWith("fuse3.")) {
      runHelper(m, target);
      return;
    }
    long flags = 0;
    boolean bind = m.type().equals("bind") || m.type().equals("rbind");
    List<String> data = new ArrayList<>();
    for (String o : m.options()) {
      switch (o) {
        case "ro":
          flags |= Sys.MS_RDONLY;
          break;
        case "rw":
          break;
        case "nosuid":
          flags |= Sys.MS_NOSUID;
          break;
        case "nodev":
          flags |= Sys.MS_NODEV;
          break;
        case "noexec":
          flags |= Sys.MS_NOEXEC;
          break;
        case "bind":
          bind = true;
          break;
        case "rbind":
          bind = true;
          flags |= Sys.MS_REC;
          break;
        default:
          data.add(o);
      }
    }
    String joined = String.join(",", data);
    if (joined.getBytes(StandardCharsets.UTF_8).length > MAX_DATA) {
      throw new IOException(
          "the "
              + m.type()
              + " mount for "
              + target
              + " has "
              + joined.length()
              + " bytes of options, over the "
              + MAX_DATA
              + " that mount(2) accepts");
    }
    if (bind) {
      Sys.mount(m.source(), target.toString(), null, Sys.MS_BIND | (flags & Sys.MS_REC), null);
      if ((flags & Sys.MS_RDONLY) != 0) {
        Sys.mount(
            null,
            target.toString(),
            null,
            Sys.MS_BIND | Sys.MS_REMOUNT | Sys.MS_RDONLY | (flags & ~Sys.MS_REC),
            null);
      }
      return;
    }
    String options = joined.isEmpty() ? null : joined;
    if (m.workingDirectory() != null) {
      mountFrom(m.workingDirectory(), m.source(), target.toString(), m.type(), flags, options);
      return;
    }
    Sys.mount(m.source(), target.toString(), m.type(), flags, options);
  }

  /**
   * mount(2) with {@code dir} as the working directory, so that relative paths in {@code data}
   * resolve from it (overlay2's short lowerdir form). A JVM cannot chdir without moving every
   * thread, so the call runs on a thread of its own that first unshares its filesystem attributes
   * ({@code unshare(CLONE_FS)}: its working directory becomes its own) and then chdirs; the thread
   * ends with the call, and no other thread ever sees the change.
   */
  private static void mountFrom(
      String dir, String source, String target, String type, long flags, String data)
      throws IOException {
    if (!target.startsWith("/")) {
      throw new IllegalArgumentException("a mount target must be absolute: " + target);
    }
    IOException[] failure = new IOException[1];
    RuntimeException[] bug = new RuntimeException[1];
    Thread t =
        new Thread(
            () -> {
              try {
                Sys.unshare(Sys.CLONE_FS);
                Sys.chdir(dir);
                Sys.mount(source, target, type, flags, data);
              } catch (IOException e) {
                failure[0] = e;
              } catch (RuntimeException e) {
                bug[0] = e;
              }
            },
            "layerd-mount-from");
    t.setDaemon(true);
    t.start();
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true; // the mount may still happen: wait for it either way
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure[0] != null) {
      throw failure[0]; // as Sys threw it (the errno stays readable), relative paths and all
    }
    if (bug[0] != null) {
      throw bug[0];
    }
  }

  private static void runHelper(Mount m, Path target) throws IOException {
    String helper = m.type().substring(m.type().indexOf('.') + 1);
    List<String> cmd = new ArrayList<>(List.of(helper, "-o", m.optionString(), target.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(helper + " did not finish mounting " + target + " in 60 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while mounting " + target, e);
    }
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (p.exitValue() != 0) {
      throw new IOException(
          helper + " failed to mount " + target + " (exit " + p.exitValue() + "): " + output);
    }
  }

  /**
   * Unmounts {@code target}; when busy, detaches it lazily. A target not mounted is fine. A FUSE
   * mount (see {@link #isFuse}) is unmounted with {@code fusermount3 -u} first, which also works
   * for an unprivileged user, falling back to a lazy umount2.
   */
  public static void unmount(Path target) throws IOException {
    if (isFuse(target)) {
      unmountFuse(target);
      return;
    }
    try {
      Sys.umount2(target.toString(), Sys.UMOUNT_NOFOLLOW);
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (errno == Errno.EINVAL || errno == Errno.ENOENT) {
        return; // not a mount point (any more)
      }
      if (errno == Errno.EBUSY) {
        Sys.umount2(target.toString(), Sys.MNT_DETACH | Sys.UMOUNT_NOFOLLOW);
        return;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- FUSE (fuse-overlayfs driver)

  /** How long {@code fusermount3 -u} may take before the lazy umount2 is tried. */
  private static final long FUSERMOUNT_SECONDS = 30;

  /**
   * True when {@code target} is a FUSE mount: statfs gives FUSE's magic, or ENOTCONN (a FUSE daemon
   * that died leaves its mount answering ENOTCONN).
   */
  static boolean isFuse(Path target) {
    try {
      return Sys.statfs(target.toString()).type() == StatFs.FUSE_SUPER_MAGIC;
    } catch (IOException e) {
      return NativeFailure.errnoOf(e) == Errno.ENOTCONN;
    }
  }

  /**
   * True when {@code target} is a mount whose FUSE daemon died: statfs (never answered from the
   * kernel's attribute cache, unlike stat) gives ENOTCONN. Such a mount must be unmounted and
   * mounted again.
   */
  public static boolean isStale(Path target) {
    try {
      Sys.statfs(target.toString());
      return false;
    } catch (IOException e) {
      return NativeFailure.errnoOf(e) == Errno.ENOTCONN;
    }
  }

  /**
   * {@code fusermount3 -u TARGET} (or {@code fusermount -u}); when that is missing or fails, a lazy
   * umount2 (real root, or the owner of the mount namespace).
   */
  private static void unmountFuse(Path target) throws IOException {
    String helperFailure = null;
    java.util.Optional<Path> fusermount =
        Host.which("fusermount3").or(() -> Host.which("fusermount"));
    if (fusermount.isPresent()) {
      List<String> cmd = List.of(fusermount.get().toString(), "-u", target.toString());
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      try {
        if (!p.waitFor(FUSERMOUNT_SECONDS, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          helperFailure = String.join(" ", cmd) + " did not finish in " + FUSERMOUNT_SECONDS + " s";
        } else if (p.exitValue() == 0) {
          return;
        } else {
          helperFailure =
              String.join(" ", cmd)
                  + " failed (exit "
                  + p.exitValue()
                  + "): "
                  + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while unmounting " + target, e);
      }
    }
    try {
      Sys.umount2(target.toString(), Sys.MNT_DETACH | Sys.UMOUNT_NOFOLLOW);
    } catch (IOException e) {
      Errno errno = NativeFailure.errnoOf(e);
      if (errno == Errno.EINVAL || errno == Errno.ENOENT) {
        return; // not a mount point (any more)
      }
      if (helperFailure != null) {
        e.addSuppressed(new IOException(helperFailure));
      }
      throw e;
    }
  }
}
