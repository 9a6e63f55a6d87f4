package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.internal.TarReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/**
 * Packing a tree into a layer (Diff) states owners as the layer had them before ApplyDiff shifted
 * them, and refuses, by name, a file whose owner maps back to no id.
 */
class TreePackerTest {
  @TempDir Path tmp;

  /** A --userns-remap-like shift: tar ids 0-65535 are host ids 100000-165535. */
  static final OwnerMapper SHIFT =
      new OwnerMapper() {
        @Override
        public long uid(long containerUid, TarEntry entry) {
          return containerUid + 100_000;
        }

        @Override
        public long gid(long containerGid, TarEntry entry) {
          return containerGid + 100_000;
        }

        @Override
        public long tarUid(long fileUid) {
          return fileUid >= 100_000 && fileUid < 165_536 ? fileUid - 100_000 : -1;
        }

        @Override
        public long tarGid(long fileGid) {
          return fileGid >= 100_000 && fileGid < 165_536 ? fileGid - 100_000 : -1;
        }
      };

  static Map<String, TarEntry> pack(Path root, OwnerMapper owners, String... paths)
      throws IOException {
    List<TreePacker.Item> items = new ArrayList<>();
    for (String p : paths) {
      items.add(new TreePacker.Item(Names.bytes(p), false));
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (Fd d = Sys.openDirectory(root.toString())) {
      TreePacker.pack(d.get(), items, out, owners);
    }
    Map<String, TarEntry> entries = new LinkedHashMap<>();
    TarReader r = new TarReader(new ByteArrayInputStream(out.toByteArray()));
    for (TarEntry e = r.next(); e != null; e = r.next()) {
      entries.put(e.displayName().replaceAll("/$", ""), e);
    }
    return entries;
  }

  @RootTest
  void ownersAreMappedBackToTheLayersIds() throws IOException {
    Path root = Files.createDirectory(tmp.resolve("root"));
    Layers.apply(
        LayerApplier.builder().owners(SHIFT).build(),
        root,
        "l",
        TarBuilder.create()
            .dir("d/")
            .owner(0, 0)
            .file("d/f", "x")
            .owner(1000, 50)
            .symlink("d/l", "f")
            .owner(7, 8)
            .build());
    assertEquals(101_000, Files.getAttribute(root.resolve("d/f"), "unix:uid"));
    Map<String, TarEntry> e = pack(root, SHIFT, "d", "d/f", "d/l");
    assertEquals(0, e.get("d").uid());
    assertEquals(1000, e.get("d/f").uid());
    assertEquals(50, e.get("d/f").gid());
    assertEquals(7, e.get("d/l").uid());
    assertEquals(8, e.get("d/l").gid());

    Map<String, TarEntry> plain = pack(root, OwnerMapper.identity(), "d/f");
    assertEquals(101_000, plain.get("d/f").uid(), "without a mapping, the ids on disk");
  }

  @RootTest
  void anOwnerThatMapsBackToNoIdIsRefusedByName() throws IOException {
    Path root = Files.createDirectory(tmp.resolve("root"));
    Layers.apply(
        LayerApplier.builder().owners(SHIFT).build(),
        root,
        "l",
        TarBuilder.create().file("made-in-container", "x").owner(0, 0).build());
    Files.setAttribute(root.resolve("made-in-container"), "unix:uid", 4242);
    IOException e = assertThrows(IOException.class, () -> pack(root, SHIFT, "made-in-container"));
    assertTrue(e.getMessage().contains("made-in-container"), e.getMessage());
    assertTrue(e.getMessage().contains("uid 4242"), e.getMessage());
    assertTrue(e.getMessage().contains("chown"), e.getMessage());
  }
}
