package io.layerd.cli;

import io.layerd.testkit.TreeManifest;
import io.layerd.unpack.LayerStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** The repository's real test data (testdata/, see its README.md) and helpers to compare trees. */
final class TestData {
  private TestData() {}

  /**
   * The repository root: the system property {@code layerd.repoRoot} (surefire sets it), else the
   * first directory up from the working directory that holds {@code testdata/}.
   */
  static Path repoRoot() {
    String prop = System.getProperty("layerd.repoRoot");
    if (prop != null && !prop.isBlank() && Files.isDirectory(Path.of(prop, "testdata"))) {
      return Path.of(prop).toAbsolutePath();
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("testdata"))) {
        return p;
      }
    }
    throw new IllegalStateException(
        "cannot find the repository's testdata/: set -Dlayerd.repoRoot or run inside the"
            + " repository");
  }

  static Path testdata(String relative) {
    Path p = repoRoot().resolve("testdata").resolve(relative);
    if (!Files.exists(p)) {
      throw new IllegalStateException("missing test data: " + p);
    }
    return p;
  }

  /** Every entry of testdata/DIR (files and directories), sorted; never empty. */
  static List<Path> all(String dir) throws IOException {
    List<Path> out;
    try (Stream<Path> s = Files.list(testdata(dir))) {
      out = s.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
    }
    if (out.isEmpty()) {
      throw new IllegalStateException("testdata/" + dir + " is empty");
    }
    return out;
  }

  /** Whether a layer (compressed or not) has an entry for its root ("./" or "."). */
  static boolean hasRootEntry(Path layer) throws IOException {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(layer));
        LayerStream s = LayerStream.open(raw);
        TarArchiveInputStream tar = new TarArchiveInputStream(s.tar())) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        String n = e.getName().replaceAll("/+$", "");
        if (n.isEmpty() || n.equals(".") || n.equals("/")) {
          return true;
        }
      }
    }
    return false;
  }

  /** The paths of character and block devices in a manifest. */
  static List<String> devices(TreeManifest m) {
    return m.entries().stream()
        .filter(e -> e.type() == TreeManifest.Type.CHAR || e.type() == TreeManifest.Type.BLOCK)
        .map(TreeManifest.Entry::path)
        .toList();
  }

  /** Deletes a tree (as root: whatever its modes), not following symlinks. */
  static void deleteTree(Path top) throws IOException {
    if (!Files.exists(top, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> s = Files.walk(top)) {
      for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(p);
      }
    }
  }
}
