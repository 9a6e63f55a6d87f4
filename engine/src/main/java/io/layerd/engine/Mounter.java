package io.layerd.engine;

import io.layerd.engine.spi.Mount;
import io.layerd.sys.Errno;
import io.layerd.sys.NativeFailure;
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
    Sys.mount(m.source(), target.toString(), m.type(), flags, joined.isEmpty() ? null : joined);
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

  /** Unmounts {@code target}; when busy, detaches it lazily. A target not mounted is fine. */
  public static void unmount(Path target) throws IOException {
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
}
