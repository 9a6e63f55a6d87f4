package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.layerd.sys.Names;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.TreeManifest.Entry;
import io.layerd.testkit.TreeManifest.Options;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Small helpers for applying layers in tests and looking at what they left. */
final class Layers {
  private Layers() {}

  /** Mtimes and the root's own attributes left out: what most tests compare. */
  static final Options SHAPE = Options.builder().ignoreMtimes().ignoreRootAttributes().build();

  /** Applies layers in order with the default applier; returns the last result. */
  static ApplyResult apply(Path root, TarBuilder... layers) throws IOException {
    return apply(LayerApplier.builder().build(), root, layers);
  }

  /** Applies layers in order; returns the last result. */
  static ApplyResult apply(LayerApplier a, Path root, TarBuilder... layers) throws IOException {
    ApplyResult last = null;
    int i = 0;
    for (TarBuilder t : layers) {
      last = apply(a, root, "layer" + i++, t.build());
    }
    return last;
  }

  static ApplyResult apply(LayerApplier a, Path root, String name, byte[] layer)
      throws IOException {
    return a.apply(name, new ByteArrayInputStream(layer), root, LayerApplier.Expect.NOTHING);
  }

  /** Applies a layer that must be refused; returns the refusal. */
  static LayerApplyException refused(LayerApplier a, Path root, String name, byte[] layer) {
    return assertThrows(
        LayerApplyException.class,
        () -> apply(a, root, name, layer),
        "layer " + name + " was applied but must be refused");
  }

  /** Asserts the tree at {@code root} holds exactly these entries (the root itself implied). */
  static void assertTree(Path root, Entry... expected) throws IOException {
    assertTree(root, SHAPE, expected);
  }

  static void assertTree(Path root, Options options, Entry... expected) throws IOException {
    List<Entry> all = new ArrayList<>(List.of(expected));
    if (all.stream().noneMatch(e -> e.path().equals("."))) {
      all.add(Entry.dir(".", 0, 0, 0));
    }
    TreeManifest want = TreeManifest.ofEntries(all).normalize(options);
    TreeManifest.assertSame(want, TreeManifest.of(root, options));
  }

  static Stat lstat(Path p) throws IOException {
    return Sys.lstat(p.toString());
  }

  /** An xattr of a path (not followed), or null when absent. */
  static byte[] xattr(Path p, String name) throws IOException {
    return Sys.lgetxattr(Names.bytes(p.toString()), name);
  }

  static List<String> xattrs(Path p) throws IOException {
    return Sys.llistxattr(Names.bytes(p.toString()));
  }

  // Entries of expected trees without xattrs, owned by this process's ids: as root the layers'
  // owner (0), as another user the files' creator.

  static final long UID = Sys.geteuid();
  static final long GID = Sys.getegid();

  static Entry dir(String path) {
    return dir(path, 0755);
  }

  static Entry dir(String path, int mode) {
    return Entry.dir(path, mode, UID, GID);
  }

  static Entry file(String path, String content) {
    return file(path, content, 0644);
  }

  static Entry file(String path, String content, int mode) {
    return Entry.file(
        path, content.getBytes(java.nio.charset.StandardCharsets.UTF_8), mode, UID, GID);
  }

  static Entry symlink(String path, String target) {
    return Entry.symlink(path, target, UID, GID);
  }

  /** An overlayfs whiteout: a character device 0/0 with no permission bits. */
  static Entry whiteoutDevice(String path) {
    return Entry.special(path, TreeManifest.Type.CHAR, 0, UID, GID, 0, 0);
  }

  /** This directory with the overlay opaque marker (trusted.overlay.opaque="y"). */
  static Entry opaqueDir(String path) {
    return dir(path).withXattrs(java.util.Map.of("trusted.overlay.opaque", "\"y\""));
  }
}
