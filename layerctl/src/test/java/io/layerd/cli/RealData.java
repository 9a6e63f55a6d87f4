package io.layerd.cli;

import io.layerd.testkit.TestData;
import io.layerd.testkit.TreeManifest;
import io.layerd.unpack.internal.LayerStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** Helpers for the repository's real test data ({@link TestData}): listings, layers, trees. */
final class RealData {
  private RealData() {}

  /** Every entry of testdata/DIR (files and directories), sorted; never empty. */
  static List<Path> all(String dir) throws IOException {
    List<Path> out;
    try (Stream<Path> s = Files.list(TestData.file(dir))) {
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
}
