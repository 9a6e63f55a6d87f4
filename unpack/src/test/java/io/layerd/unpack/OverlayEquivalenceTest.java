package io.layerd.unpack;

import io.layerd.sys.Sys;
import io.layerd.testkit.Require;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.Tiers;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Overlay mode is a faithful conversion: a layer applied in overlay form to an empty upper
 * directory and mounted by overlayfs over the lower layers shows exactly the tree that apply mode
 * makes of the same layers. The mount, not our reading of overlayfs, is the judge.
 *
 * <p>One shape has no overlay form: an opaque marker at the top of a layer (overlayfs ignores the
 * opaque xattr on an upper layer's root); the applier warns about it ({@link WhiteoutTest}).
 */
class OverlayEquivalenceTest {
  @TempDir Path tmp;

  /** A lower layer, and an upper layer to compare in both modes. */
  record Scenario(String name, Consumer<TarBuilder> lower, Consumer<TarBuilder> upper) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Consumer<TarBuilder> base() {
    return t ->
        t.dir("d/")
            .file("d/old", "lower")
            .dir("d/sub/")
            .file("d/sub/old", "lower")
            .file("f", "lower f")
            .symlink("l", "d")
            .dir("e/")
            .file("e/keep", "k");
  }

  static Stream<Scenario> scenarios() {
    return Stream.of(
        new Scenario(
            "whiteouts of a file, a directory and a symlink",
            base(),
            t -> t.whiteout("f").whiteout("d").whiteout("l")),
        new Scenario("a whiteout whose parent has no entry", base(), t -> t.whiteout("d/sub/old")),
        new Scenario(
            "opaque, marker first", base(), t -> t.dir("d/").opaque("d").file("d/new", "n")),
        new Scenario(
            "opaque, marker last, a kept subdirectory",
            base(),
            t -> t.dir("d/").dir("d/sub/").file("d/sub/new", "n").opaque("d")),
        new Scenario(
            "a directory whited out, then made again",
            base(),
            t -> t.whiteout("d").dir("d/").file("d/new", "n")),
        new Scenario(
            "a directory made again, then whited out",
            base(),
            t -> t.dir("d/").file("d/new", "n").whiteout("d")),
        new Scenario(
            "a directory whited out, then a file below it",
            base(),
            t -> t.whiteout("d").file("d/sub/new", "n")),
        new Scenario(
            "a file whited out, then made again",
            base(),
            t -> t.whiteout("f").file("f", "upper f")),
        new Scenario(
            "a file made again, then whited out",
            base(),
            t -> t.file("f", "upper f").whiteout("f")),
        new Scenario(
            "a whiteout, then one below it", base(), t -> t.whiteout("e").whiteout("e/keep")));
  }

  static final TreeManifest.Options OPTIONS =
      TreeManifest.Options.builder()
          .ignoreDirectoryMtimes()
          .ignoreRootAttributes()
          .ignoreXattrs("trusted.overlay.")
          .build();

  @ParameterizedTest(name = "{0}")
  @MethodSource("scenarios")
  @Tag(Tiers.ROOT)
  void overlayMountShowsWhatApplyMakes(Scenario s) throws IOException {
    Require.root();
    TarBuilder lower = TarBuilder.create();
    s.lower().accept(lower);
    TarBuilder upper = TarBuilder.create();
    s.upper().accept(upper);

    Path applied = Files.createDirectories(tmp.resolve("applied"));
    Layers.apply(applied, lower, upper);

    Path l = Files.createDirectories(tmp.resolve("lower"));
    Path u = Files.createDirectories(tmp.resolve("upper"));
    Path w = Files.createDirectories(tmp.resolve("work"));
    Path m = Files.createDirectories(tmp.resolve("merged"));
    Layers.apply(l, lower);
    Layers.apply(LayerApplier.builder().whiteouts(WhiteoutMode.OVERLAY).build(), u, upper);
    Sys.mount(
        "overlay",
        m.toString(),
        "overlay",
        0,
        "lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w);
    try {
      TreeManifest.assertSame(TreeManifest.of(applied, OPTIONS), TreeManifest.of(m, OPTIONS));
    } finally {
      Sys.umount2(m.toString(), Sys.MNT_DETACH);
    }
  }
}
