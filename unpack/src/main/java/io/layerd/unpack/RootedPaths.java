package io.layerd.unpack;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Path operations inside a root that never leave it (for the engine). */
public final class RootedPaths {
  private RootedPaths() {}

  /**
   * lstat of a path resolved inside {@code root} (symlinks in its parents resolved in the root, the
   * last component not followed), or null when it does not exist.
   */
  public static Stat lstatIn(Path root, byte[] path) throws IOException {
    List<byte[]> comps = LayerApplier.clean(path);
    try (Fd r = Sys.openDirectory(root.toString())) {
      if (comps.isEmpty()) {
        return Sys.fstat(r.get());
      }
      byte[] parent = Names.join(comps.subList(0, comps.size() - 1));
      int pfd;
      try {
        pfd =
            parent.length == 0
                ? Sys.dup(r.get())
                : Sys.openInRoot(r.get(), parent, Sys.O_PATH | Sys.O_DIRECTORY, 0);
      } catch (java.nio.file.NoSuchFileException | java.nio.file.NotDirectoryException e) {
        return null;
      }
      try (Fd p = new Fd(pfd)) {
        return RootedTree.statOrNull(p.get(), comps.get(comps.size() - 1));
      }
    }
  }
}
