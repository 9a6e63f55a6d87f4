package io.layerd.engine.internal;

import io.layerd.engine.DataRootException;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Checks and makes a data-root: refuses NFS before writing anything, then makes it 0700. */
public final class DataRoot {
  private DataRoot() {}

  /**
   * Makes {@code root} usable: checks the filesystem it is (or will be) on, creates it (mode 0700,
   * owned by the user) when missing, and returns its absolute path.
   */
  public static Path prepare(Path root, Host host) throws IOException {
    Path abs = root.toAbsolutePath().normalize();
    Path existing = abs;
    while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      throw new DataRootException("data-root " + abs + ": no part of the path exists");
    }
    FsInfo fs = host.filesystems().probe(existing);
    if (fs.isNfs()) {
      throw new DataRootException(nfsMessage(abs, fs));
    }
    if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
      try {
        Files.createDirectories(abs.getParent());
        Files.createDirectory(
            abs,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (java.nio.file.FileAlreadyExistsException raced) {
        // made meanwhile by someone else: checked below like any existing one
      } catch (java.nio.file.FileSystemException e) {
        // e.g. AccessDeniedException, whose message is only the path
        throw new DataRootException(
            "data-root "
                + abs
                + " cannot be made: uid "
                + Sys.geteuid()
                + " may not create "
                + e.getFile()
                + (e.getReason() == null ? "" : " (" + e.getReason() + ")")
                + ": create it with this user as owner, or choose another --data-root");
      }
    }
    if (!Files.isDirectory(abs)) {
      throw new DataRootException(
          "data-root " + abs + " is not a directory: remove it or choose another --data-root");
    }
    if (!Files.isWritable(abs)) {
      throw new DataRootException(
          "data-root "
              + abs
              + " is not writable by uid "
              + Sys.geteuid()
              + ": fix its owner (chown) or choose another --data-root");
    }
    return abs;
  }

  static String nfsMessage(Path root, FsInfo fs) {
    return "data-root "
        + root
        + " is on NFS ("
        + fs.type()
        + (fs.source().isEmpty() ? "" : " " + fs.source())
        + ", mounted at "
        + fs.mountPoint()
        + "): NFS is not supported as a data-root, because changing the ownership of layer"
        + " files fails there with 'operation not permitted' (the server does not let a client"
        + " chown to other ids, least of all to subordinate ids). Move the data-root off NFS:"
        + " set \"data-root\": \"/somewhere-out-of-nfs\" in the config file (or pass"
        + " --data-root), on a local filesystem such as ext4, xfs or btrfs.";
  }
}
