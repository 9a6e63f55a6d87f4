package io.layerd.unpack;

import static io.layerd.unpack.Layers.apply;
import static io.layerd.unpack.Layers.assertTree;
import static io.layerd.unpack.Layers.dir;
import static io.layerd.unpack.Layers.file;
import static io.layerd.unpack.Layers.lstat;
import static io.layerd.unpack.Layers.opaqueDir;
import static io.layerd.unpack.Layers.refused;
import static io.layerd.unpack.Layers.whiteoutDevice;
import static io.layerd.unpack.Layers.xattr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest.Entry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * OCI whiteouts: {@code .wh.NAME} removes NAME of the layers below, {@code .wh..wh..opq} hides a
 * directory's lower contents whatever the order of entries, neither shows in the result; invalid
 * whiteout names are refused; the overlay and keep modes.
 */
class WhiteoutTest {
  @TempDir Path root;

  static TarBuilder tar() {
    return TarBuilder.create();
  }

  static LayerApplier mode(WhiteoutMode m) {
    return LayerApplier.builder().whiteouts(m).build();
  }

  // ---------------------------------------------------------------- .wh.NAME

  @Test
  void aWhiteoutRemovesALowerFileDirectoryAndSymlink() throws IOException {
    apply(
        root,
        tar()
            .dir("d/")
            .file("d/file", "f")
            .dir("d/sub/")
            .file("d/sub/deep", "x")
            .symlink("d/link", "/d/sub")
            .file("d/keep", "k"),
        tar().whiteout("d/file").whiteout("d/sub").whiteout("d/link"));
    assertTree(root, dir("d"), file("d/keep", "k"));
  }

  @Test
  void aWhiteoutOfASymlinkRemovesTheLinkNotItsTarget() throws IOException {
    apply(root, tar().dir("t/").file("t/f", "f").symlink("l", "t"), tar().whiteout("l"));
    assertTree(root, dir("t"), file("t/f", "f"));
  }

  @Test
  void hiddenFilesAndDirectoriesCanBeWhitedOut() throws IOException {
    apply(
        root,
        tar().file(".hidden", "h").dir(".hiddendir/").file(".hiddendir/x", "x").file("v", "v"),
        tar().whiteout(".hidden").whiteout(".hiddendir"));
    assertTree(root, file("v", "v"));
  }

  @Test
  void theParentKeepsItsTimes() throws IOException {
    apply(root, tar().dir("d/").mtime(1_000_000_000L, 0).file("d/f", "f"));
    Stat before = lstat(root.resolve("d"));
    assertEquals(1_000_000_000L, before.mtimeSec());
    apply(root, tar().whiteout("d/f"));
    Stat after = lstat(root.resolve("d"));
    assertEquals(before.mtimeSec(), after.mtimeSec());
    assertEquals(before.mtimeNsec(), after.mtimeNsec());
    assertTree(root, dir("d"));
  }

  @Test
  void aWhiteoutNeverRemovesItsOwnLayersFile() throws IOException {
    apply(root, tar().file("f", "mine").whiteout("f"));
    assertTree(root, file("f", "mine"));
  }

  /** The whiteout hides the lower directory's contents, whether it comes before or after. */
  @ParameterizedTest(name = "whiteout first: {0}")
  @ValueSource(booleans = {true, false})
  void aDirectoryMadeAgainHoldsOnlyThisLayersContents(boolean whiteoutFirst) throws IOException {
    apply(root, tar().dir("d/").file("d/old", "o").dir("d/sub/").file("d/sub/old", "o"));
    TarBuilder layer = tar();
    if (whiteoutFirst) {
      layer.whiteout("d");
    }
    layer.dir("d/").file("d/new", "n").file("e/sub/new", "n");
    if (!whiteoutFirst) {
      layer.whiteout("d").whiteout("e");
    }
    apply(root, layer);
    assertTree(root, dir("d"), file("d/new", "n"), dir("e"), dir("e/sub"), file("e/sub/new", "n"));
  }

  @Test
  void aWhiteoutWithNoParentIsANoOp() throws IOException {
    ApplyResult r = apply(root, tar().whiteout("no/such/dir/f"));
    assertEquals(1, r.counts().whiteouts());
    assertTree(root);
  }

  @Test
  void whiteoutEntriesDoNotShowAndAreCounted() throws IOException {
    ApplyResult r =
        apply(
            root,
            tar().file("a", "a"),
            tar().whiteout("a").whiteout("b").opaque("c").file("z", ""));
    assertEquals(3, r.counts().whiteouts());
    assertEquals(4, r.counts().entries());
    assertTree(root, dir("c"), file("z", ""));
  }

  @Test
  void aWhiteoutPrefixInADirectoryNameIsNotAWhiteout() throws IOException {
    apply(root, tar().file("..gitme", "g").file(".wh.dir/file", "x").file(".whx", "y"));
    assertTree(
        root, file("..gitme", "g"), dir(".wh.dir"), file(".wh.dir/file", "x"), file(".whx", "y"));
  }

  @Test
  void aufsMetadataIsNotContent() throws IOException {
    apply(root, tar().file(".wh..wh.aufs", "").file("d/.wh..wh.plnk", ""));
    assertTree(root);
  }

  @ParameterizedTest
  @ValueSource(strings = {".wh.", ".wh..", ".wh...", "d/.wh.", "d/.wh..", "d/.wh...", "d/e/.wh..."})
  void invalidWhiteoutNamesAreRefused(String name) throws IOException {
    apply(root, tar().dir("d/").file("d/f", "f"));
    LayerApplyException e =
        refused(LayerApplier.builder().build(), root, "bad", tar().file(name, "").build());
    assertTrue(e.getCause() instanceof InvalidArchiveException, e.toString());
    assertTrue(e.getMessage().contains("layer bad"), e.getMessage());
    assertTrue(e.getMessage().contains("invalid whiteout"), e.getMessage());
    assertTrue(Files.exists(root.resolve("d/f")), "the whiteout reached outside its directory");
  }

  // ---------------------------------------------------------------- opaque directories

  @Test
  void anOpaqueDirectoryHidesItsLowerContents() throws IOException {
    apply(
        root,
        tar().dir("d/").file("d/a", "a").dir("d/b/").file("d/b/c", "c").file("outside", "o"),
        tar().dir("d/").opaque("d").file("d/new", "n"));
    assertTree(root, dir("d"), file("d/new", "n"), file("outside", "o"));
  }

  /** The layer's own entries survive whatever their place relative to the opaque marker. */
  @ParameterizedTest(name = "marker at {0}")
  @ValueSource(ints = {0, 1, 2, 3, 4, 5})
  void anOpaqueMarkerWorksAtAnyPlace(int at) throws IOException {
    apply(
        root,
        tar()
            .dir("d/")
            .file("d/old", "o")
            .dir("d/sub/")
            .file("d/sub/old", "o")
            .dir("d/keep/")
            .file("d/keep/old", "o"));
    List<Consumer<TarBuilder>> entries = new ArrayList<>();
    entries.add(t -> t.dir("d/"));
    entries.add(t -> t.file("d/new", "n"));
    entries.add(t -> t.dir("d/sub/"));
    entries.add(t -> t.file("d/sub/new", "n"));
    entries.add(t -> t.file("d/implied/new", "n"));
    entries.add(at, t -> t.opaque("d"));
    TarBuilder layer = tar();
    entries.forEach(e -> e.accept(layer));
    apply(root, layer);
    assertTree(
        root,
        dir("d"),
        file("d/new", "n"),
        dir("d/sub"),
        file("d/sub/new", "n"),
        dir("d/implied"),
        file("d/implied/new", "n"));
  }

  /** Lower and upper shapes under an opaque directory (umoci's table, in our own words). */
  record Shape(
      String name, Consumer<TarBuilder> lower, Consumer<TarBuilder> upper, List<Entry> kept) {
    Shape(String name, Consumer<TarBuilder> lower, Consumer<TarBuilder> upper, Entry... kept) {
      this(name, lower, upper, List.of(kept));
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Shape> opaqueShapes() {
    return Stream.of(
        new Shape("file", t -> t.file("d/x", "lower"), t -> {}),
        new Shape(
            "file replaced",
            t -> t.file("d/x", "lower"),
            t -> t.file("d/x", "upper"),
            file("d/x", "upper")),
        new Shape("directory with content", t -> t.dir("d/x/").file("d/x/y", "lower"), t -> {}),
        new Shape(
            "directory kept by the upper",
            t -> t.dir("d/x/").file("d/x/y", "lower"),
            t -> t.dir("d/x/").file("d/x/z", "upper"),
            dir("d/x"),
            file("d/x/z", "upper")),
        new Shape(
            "symlink out of the root", t -> t.symlink("d/x", "../../../../etc/shadow"), t -> {}),
        new Shape(
            "symlink to a directory",
            t -> t.dir("t/").file("t/y", "t").symlink("d/x", "/t"),
            t -> {},
            dir("t"),
            file("t/y", "t")),
        new Shape(
            "hardlink to a file elsewhere",
            t -> t.file("t", "t").hardlink("d/x", "t"),
            t -> {},
            file("t", "t")),
        new Shape(
            "symlink replaced by a directory",
            t -> t.dir("t/").file("t/y", "t").symlink("d/x", "/t"),
            t -> t.dir("d/x/").file("d/x/z", "upper"),
            dir("t"),
            file("t/y", "t"),
            dir("d/x"),
            file("d/x/z", "upper")),
        new Shape(
            "nested opaque directory",
            t -> t.dir("d/x/").file("d/x/y", "lower"),
            t -> t.dir("d/x/").opaque("d/x").file("d/x/z", "upper"),
            dir("d/x"),
            file("d/x/z", "upper")));
  }

  @ParameterizedTest(name = "{0}, marker first")
  @MethodSource("opaqueShapes")
  void opaqueShapeMarkerFirst(Shape s) throws IOException {
    opaqueShape(s, true);
  }

  @ParameterizedTest(name = "{0}, marker last")
  @MethodSource("opaqueShapes")
  void opaqueShapeMarkerLast(Shape s) throws IOException {
    opaqueShape(s, false);
  }

  private void opaqueShape(Shape s, boolean markerFirst) throws IOException {
    TarBuilder lower = tar().dir("d/");
    s.lower().accept(lower);
    TarBuilder upper = tar().dir("d/");
    if (markerFirst) {
      upper.opaque("d");
    }
    s.upper().accept(upper);
    if (!markerFirst) {
      upper.opaque("d");
    }
    apply(root, lower, upper);
    List<Entry> all = new ArrayList<>(s.kept());
    all.add(dir("d"));
    assertTree(root, all.toArray(new Entry[0]));
  }

  @Test
  void anOpaqueMarkerAtTheTopHidesEverythingBelow() throws IOException {
    apply(root, tar().file("a", "a").dir("b/").file("b/c", "c"));
    apply(root, tar().opaque("").file("n", "n"));
    assertTree(root, file("n", "n"));
  }

  // ---------------------------------------------------------------- keep mode

  @Test
  void keepModeWritesWhiteoutsAsFiles() throws IOException {
    apply(root, tar().file("a", "a").dir("d/").file("d/b", "b"));
    ApplyResult r =
        apply(mode(WhiteoutMode.KEEP), root, tar().whiteout("a").opaque("d").file("d/.wh.b", ""));
    assertEquals(0, r.counts().whiteouts());
    assertTree(
        root,
        file("a", "a"),
        file(".wh.a", ""),
        dir("d"),
        file("d/b", "b"),
        file("d/.wh..wh..opq", ""),
        file("d/.wh.b", ""));
  }

  // ---------------------------------------------------------------- overlay mode (trusted.*)

  @RootTest
  void overlayModeMakesWhiteoutDevicesAndOpaqueXattrs() throws IOException {
    ApplyResult r =
        apply(
            mode(WhiteoutMode.OVERLAY),
            root,
            tar()
                .dir("d/")
                .whiteout("d/gone")
                .opaque("d")
                .dir("d/e/")
                .opaque("d/e")
                .whiteout("top"));
    assertEquals(4, r.counts().whiteouts());
    assertTree(
        root, opaqueDir("d"), whiteoutDevice("d/gone"), opaqueDir("d/e"), whiteoutDevice("top"));
    assertArrayEquals(bytes("y"), xattr(root.resolve("d"), "trusted.overlay.opaque"));
    assertArrayEquals(bytes("y"), xattr(root.resolve("d/e"), "trusted.overlay.opaque"));
    assertNull(xattr(root, "trusted.overlay.opaque"));
  }

  @RootTest
  void overlayModeMarksTheRootOpaque() throws IOException {
    apply(mode(WhiteoutMode.OVERLAY), root, tar().opaque("").file("f", "f"));
    assertArrayEquals(bytes("y"), xattr(root, "trusted.overlay.opaque"));
  }

  /** overlayfs ignores the opaque xattr on an upper layer's root: said, not silently lost. */
  @RootTest
  void overlayModeWarnsThatAnOpaqueTopCannotBeExpressed() throws IOException {
    ApplyResult r = apply(mode(WhiteoutMode.OVERLAY), root, tar().opaque("").file("f", "f"));
    assertTrue(
        r.warnings().stream().anyMatch(w -> w.contains("top directory opaque")),
        r.warnings().toString());
  }

  @RootTest
  void overlayModeOpaqueInADirectoryWithoutAnEntry() throws IOException {
    apply(mode(WhiteoutMode.OVERLAY), root, tar().opaque("a/b").file("a/b/f", "f"));
    assertArrayEquals(bytes("y"), xattr(root.resolve("a/b"), "trusted.overlay.opaque"));
    assertTree(root, dir("a"), opaqueDir("a/b"), file("a/b/f", "f"));
  }

  /** containers/storage: a whiteout of foo, then of foo/bar, in one layer. */
  @RootTest
  void overlayModeWhiteoutBelowAWhiteout() throws IOException {
    apply(mode(WhiteoutMode.OVERLAY), root, tar().whiteout("foo").whiteout("foo/bar"));
    assertTree(root, whiteoutDevice("foo"));
  }

  /** The upper directory is empty: the whiteout's parent must be made, or the whiteout is lost. */
  @RootTest
  void overlayModeWhiteoutInADirectoryWithoutAnEntry() throws IOException {
    apply(mode(WhiteoutMode.OVERLAY), root, tar().whiteout("usr/share/doc"));
    assertTree(root, dir("usr"), dir("usr/share"), whiteoutDevice("usr/share/doc"));
  }

  /** A layer's own overlay xattrs are escaped, so overlayfs shows them instead of obeying them. */
  @RootTest
  void overlayModeEscapesOverlayXattrsOfContent() throws IOException {
    apply(
        mode(WhiteoutMode.OVERLAY),
        root,
        tar()
            .dir("d/")
            .xattr("trusted.overlay.opaque", "y")
            .file("f", "f")
            .xattr("trusted.overlay.redirect", "/elsewhere")
            .xattr("user.overlay.origin", "kept"));
    assertNull(xattr(root.resolve("d"), "trusted.overlay.opaque"), "content made d opaque");
    assertArrayEquals(bytes("y"), xattr(root.resolve("d"), "trusted.overlay.overlay.opaque"));
    assertNull(xattr(root.resolve("f"), "trusted.overlay.redirect"));
    assertArrayEquals(
        bytes("/elsewhere"), xattr(root.resolve("f"), "trusted.overlay.overlay.redirect"));
    assertArrayEquals(bytes("kept"), xattr(root.resolve("f"), "user.overlay.origin"));
  }

  @RootTest
  void overlayModeWithUserXattrs() throws IOException {
    LayerApplier a =
        LayerApplier.builder()
            .whiteouts(WhiteoutMode.OVERLAY)
            .overlayXattrs(OverlayXattrs.USER)
            .build();
    apply(a, root, tar().dir("d/").opaque("d").file("f", "").xattr("user.overlay.origin", "x"));
    assertArrayEquals(bytes("y"), xattr(root.resolve("d"), "user.overlay.opaque"));
    assertNull(xattr(root.resolve("d"), "trusted.overlay.opaque"));
    assertArrayEquals(bytes("x"), xattr(root.resolve("f"), "user.overlay.overlay.origin"));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
