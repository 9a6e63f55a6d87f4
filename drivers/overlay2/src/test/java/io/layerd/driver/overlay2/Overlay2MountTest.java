package io.layerd.driver.overlay2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.internal.TreeChanges;
import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.Change;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Mount;
import io.layerd.sys.Fd;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.UserNsTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;

/**
 * Real mounts, as root and (through a child JVM) as an unprivileged user in a user namespace: a
 * chain deeper than 128 layers read through its merged view, the native diff against the engine's
 * tree comparison, the probe's traces, and the Status lines.
 */
class Overlay2MountTest {
  /** Over the 128 the issue asks for: 130 layers, the top one read-only over 129 lowers. */
  static final int DEPTH = 130;

  private Path tmp;

  @AfterEach
  void clean() throws IOException {
    if (tmp != null) {
      removeQuietly(tmp);
    }
  }

  static Engine engine(Path dataRoot) throws IOException {
    return Engine.open(EngineConfig.of(dataRoot, OverlayCheck.NAME));
  }

  static Overlay2Driver driver(Engine e) {
    return (Overlay2Driver) e.driver();
  }

  @RootTest
  void aChainOf130LayersMountsAndReadsThroughItsMergedView() throws IOException {
    tmp = Files.createTempDirectory("layerd-overlay2-");
    deepChain(tmp.resolve("root"));
  }

  @UserNsTest
  void aChainOf130LayersMountsInAUserNamespace() {
    ChildJvm.call(TestUser.standard(), ChildJvm.Mode.USER_NAMESPACE, Scenarios::deepChain)
        .assertSuccess();
  }

  static void deepChain(Path dataRoot) throws IOException {
    try (Engine e = engine(dataRoot)) {
      String parent = null;
      for (int i = 0; i < DEPTH; i++) {
        String id = "layer" + i;
        e.create(id, parent);
        e.applyDiff(
            id,
            parent,
            new ByteArrayInputStream(
                TarBuilder.create()
                    .dir("d/")
                    .file("d/f" + i, "file " + i)
                    .file("top", "layer " + i)
                    .build()));
        parent = id;
      }
      String top = parent;
      Overlay2Driver d = driver(e);
      Mount ro = d.mounts(top, true).get(0);
      assertEquals(
          d.layout().home().toString(), ro.workingDirectory(), "130 lowers take the relative form");
      assertEquals(DEPTH, ro.options().get(0).split(":").length);

      Path cwd = Files.readSymbolicLink(Path.of("/proc/thread-self/cwd"));
      Path merged = e.get(top);
      assertEquals(
          cwd,
          Files.readSymbolicLink(Path.of("/proc/thread-self/cwd")),
          "mounting from the home moves no working directory but the mount thread's");
      try {
        assertTrue(isOverlayMount(merged), merged + " is an overlay mount");
        for (int i = 0; i < DEPTH; i++) {
          assertEquals("file " + i, Files.readString(merged.resolve("d/f" + i)));
        }
        assertEquals("layer " + (DEPTH - 1), Files.readString(merged.resolve("top")));
      } finally {
        e.put(top);
      }

      e.createReadWrite("container", top);
      Path rw = e.get("container");
      try {
        assertEquals("file 0", Files.readString(rw.resolve("d/f0")), "the bottom layer");
        Files.writeString(rw.resolve("d/f0"), "changed");
        Files.delete(rw.resolve("d/f1"));
        assertEquals("changed", Files.readString(rw.resolve("d/f0")));
      } finally {
        e.put("container");
      }
      assertEquals(
          List.of("MODIFIED /d", "MODIFIED /d/f0", "DELETED /d/f1"),
          e.changes("container", null).stream().map(Change::toString).toList());
    }
  }

  static boolean isOverlayMount(Path p) throws IOException {
    String target = p.toAbsolutePath().normalize().toString();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String[] f = line.split(" ");
      int dash = List.of(f).indexOf("-");
      if (f.length > 4 && f[4].equals(target) && dash > 0 && f[dash + 1].equals("overlay")) {
        return true;
      }
    }
    return false;
  }

  @RootTest
  void theNativeDiffAgreesWithTheTreeComparison() throws IOException {
    tmp = Files.createTempDirectory("layerd-overlay2-");
    nativeDiffAgrees(tmp.resolve("root"));
  }

  @UserNsTest
  void theNativeDiffAgreesInAUserNamespace() {
    ChildJvm.call(TestUser.standard(), ChildJvm.Mode.USER_NAMESPACE, Scenarios::nativeDiffAgrees)
        .assertSuccess();
  }

  /** A container's writes through the merged view; then native Changes and Diff against naive. */
  static void nativeDiffAgrees(Path dataRoot) throws IOException {
    try (Engine e = engine(dataRoot)) {
      assertTrue(e.driver().capabilities().contains(Capability.NATIVE_DIFF));
      e.create("image", null);
      e.applyDiff(
          "image",
          null,
          new ByteArrayInputStream(
              TarBuilder.create()
                  .dir("etc/")
                  .file("etc/passwd", "root:x:0:0\n")
                  .file("etc/group", "root:x:0:\n")
                  .dir("var/")
                  .dir("var/cache/")
                  .file("var/cache/a", "a")
                  .file("var/cache/b", "b")
                  .dir("var/cache/sub/")
                  .file("var/cache/sub/c", "c")
                  .dir("opt/")
                  .file("opt/tool", "t")
                  .dir("tmp/")
                  .mode(01777)
                  .file("old-file", "becomes a directory")
                  .build()));
      e.createReadWrite("c", "image");
      Path m = e.get("c");
      try {
        Files.writeString(m.resolve("etc/passwd"), "root:x:0:0\nuser:x:1000:1000\n");
        Files.writeString(m.resolve("etc/new.conf"), "new");
        // rm -rf var/cache; mkdir var/cache: an opaque directory in the upper layer.
        removeTree(m.resolve("var/cache"));
        Files.createDirectory(m.resolve("var/cache"));
        Files.writeString(m.resolve("var/cache/fresh"), "f");
        Files.setPosixFilePermissions(
            m.resolve("opt"), PosixFilePermissions.fromString("rwx------"));
        Files.delete(m.resolve("old-file"));
        Files.createDirectories(m.resolve("old-file/inside"));
        Files.createDirectories(m.resolve("new/dir"));
        Files.writeString(m.resolve("new/dir/x"), "x");
        Files.createSymbolicLink(m.resolve("new/link"), Path.of("dir/x"));
        Files.writeString(m.resolve("tmp/scratch"), "s");
        Files.delete(m.resolve("tmp/scratch")); // made and removed: no change at all
        // A tar holds whole seconds (as moby's): so that the committed tree compares equal.
        for (String f :
            List.of("etc/passwd", "etc/new.conf", "var/cache/fresh", "new/dir/x", "new/link")) {
          wholeSeconds(m.resolve(f));
        }
      } finally {
        e.put("c");
      }

      List<Change> nativeChanges = e.changes("c", null);
      List<Change> naive = naiveChanges(e, "c", "image");
      assertEquals(naive, nativeChanges);
      assertTrue(nativeChanges.contains(change("/var/cache/sub", Change.Kind.DELETED)));
      assertFalse(nativeChanges.contains(change("/tmp", Change.Kind.MODIFIED)));

      // docker commit: the native Diff, applied on the image, gives the container's tree.
      ByteArrayOutputStream tar = new ByteArrayOutputStream();
      e.diff("c", null, tar);
      e.create("committed", "image");
      e.applyDiff("committed", "image", new ByteArrayInputStream(tar.toByteArray()));
      TreeManifest.Options o =
          TreeManifest.Options.builder().ignoreDirectoryMtimes().ignoreRootAttributes().build();
      TreeManifest expected = manifest(e, "c", o);
      TreeManifest actual = manifest(e, "committed", o);
      TreeManifest.assertSame(expected, actual);
      assertEquals(naive, e.changes("committed", null), "the committed layer's own changes");
    }
  }

  static void wholeSeconds(Path p) throws IOException {
    long now = System.currentTimeMillis() / 1000;
    Sys.utimensat(
        Sys.AT_FDCWD,
        p.toString().getBytes(StandardCharsets.UTF_8),
        now,
        0,
        now,
        0,
        Sys.AT_SYMLINK_NOFOLLOW);
  }

  static Change change(String path, Change.Kind kind) {
    return new Change(path.getBytes(StandardCharsets.UTF_8), kind);
  }

  static List<Change> naiveChanges(Engine e, String id, String parent) throws IOException {
    Path n = e.get(id);
    try {
      Path o = e.get(parent);
      try (Fd nf = Sys.openDirectory(n.toString());
          Fd of = Sys.openDirectory(o.toString())) {
        return TreeChanges.compare(nf.get(), of.get()).changes();
      } finally {
        e.put(parent);
      }
    } finally {
      e.put(id);
    }
  }

  static TreeManifest manifest(Engine e, String id, TreeManifest.Options o) throws IOException {
    Path p = e.get(id);
    try {
      return TreeManifest.of(p, o);
    } finally {
      e.put(id);
    }
  }

  @RootTest
  void statusCapabilitiesAndTheProbeAsRoot() throws Exception {
    tmp = Files.createTempDirectory("layerd-overlay2-");
    statusAndProbe(tmp.resolve("root"), false);
  }

  @RootTest
  void withoutModuleParametersTheProbeLoadsTheModuleAndMountsWithoutFeatureOptions()
      throws Exception {
    tmp = Files.createTempDirectory("layerd-overlay2-");
    Path dataRoot = Files.createDirectory(tmp.resolve("root"));
    var ctx =
        new io.layerd.engine.spi.DriverContext(
            dataRoot, dataRoot.resolve("overlay2"), io.layerd.engine.spi.Host.current(), Map.of());
    Overlay2DriverProvider p =
        new Overlay2DriverProvider(tmp.resolve("no-such-module"), OverlayCheck.REAL_DTYPE);
    String reasons = String.join("\n", p.probe(ctx).reasons());
    assertFalse(reasons.contains("index=off"), reasons);
    assertTrue(reasons.contains("test mount of two lower directories"), reasons);
    try (Stream<Path> s = Files.list(dataRoot)) {
      assertEquals(List.of(), s.toList(), "the probe leaves nothing behind");
    }
  }

  @UserNsTest
  void statusCapabilitiesAndTheProbeInAUserNamespace() {
    ChildJvm.call(TestUser.standard(), ChildJvm.Mode.USER_NAMESPACE, Scenarios::statusAndProbe)
        .assertSuccess();
  }

  static void statusAndProbe(Path dataRoot, boolean userNamespace) throws Exception {
    Files.createDirectories(dataRoot);
    var ctx =
        new io.layerd.engine.spi.DriverContext(
            dataRoot, dataRoot.resolve("overlay2"), io.layerd.engine.spi.Host.current(), Map.of());
    List<String> reasons = new Overlay2DriverProvider().probe(ctx).reasons();
    String all = String.join("\n", reasons);
    assertTrue(all.contains("test mount of two lower directories"), all);
    assertTrue(all.contains(userNamespace ? "userxattr" : "trusted.overlay"), all);
    assertTrue(all.contains("native diff: the upper directory is a complete record"), all);
    try (Stream<Path> s = Files.list(dataRoot)) {
      assertEquals(List.of(), s.toList(), "the probe leaves nothing behind");
    }
    try (Engine e = engine(dataRoot)) {
      Map<String, String> status = new java.util.LinkedHashMap<>();
      for (Map.Entry<String, String> line : e.status()) {
        status.put(line.getKey(), line.getValue());
      }
      assertEquals("true", status.get("Supports d_type"));
      assertEquals("true", status.get("Native Overlay Diff"));
      assertEquals(Boolean.toString(userNamespace), status.get("userxattr"));
      assertNotNull(status.get("Backing Filesystem"));
      var caps = e.driver().capabilities();
      assertTrue(caps.contains(Capability.ROOTLESS) && caps.contains(Capability.NEEDS_MOUNT));
      assertEquals(!userNamespace, caps.contains(Capability.DEVICES));
      assertEquals(
          userNamespace ? DeletionForm.OVERLAY_USER : DeletionForm.OVERLAY_TRUSTED,
          e.driver().deletionForm());
      Path home = dataRoot.resolve("overlay2");
      assertEquals(
          userNamespace ? "user.overlay" : "trusted.overlay",
          Files.readString(home.resolve(Layout.XATTR_NAMESPACE)).strip());
      e.create("base", null);
      Map<String, String> meta = e.metadata("base");
      assertEquals(home.resolve("base/diff").toString(), meta.get("UpperDir"));
      assertNull(meta.get("LowerDir"));
      e.create("child", "base");
      assertEquals(home.resolve("base/diff").toString(), e.metadata("child").get("LowerDir"));
      String link = Files.readString(home.resolve("child/link"));
      assertEquals(
          Path.of("../child/diff"), Files.readSymbolicLink(home.resolve("l").resolve(link)));
      e.remove("child");
      assertFalse(Files.exists(home.resolve("l").resolve(link)), "remove takes the short link");
      try (Stream<Path> s = Files.list(home)) {
        List<String> names = s.map(p -> p.getFileName().toString()).sorted().toList();
        assertEquals(List.of(".empty", ".xattr-namespace", "base", "l"), names);
      }
    }
  }

  /** What the child JVMs run (as root of a user namespace mapped to the test user). */
  static final class Scenarios {
    private Scenarios() {}

    static void deepChain() throws IOException {
      Path t = Files.createTempDirectory("layerd-overlay2-userns-");
      try {
        Overlay2MountTest.deepChain(t.resolve("root"));
      } finally {
        removeQuietly(t);
      }
    }

    static void nativeDiffAgrees() throws IOException {
      Path t = Files.createTempDirectory("layerd-overlay2-userns-");
      try {
        Overlay2MountTest.nativeDiffAgrees(t.resolve("root"));
      } finally {
        removeQuietly(t);
      }
    }

    static void statusAndProbe() throws Exception {
      Path t = Files.createTempDirectory("layerd-overlay2-userns-");
      try {
        Overlay2MountTest.statusAndProbe(t.resolve("root"), true);
      } finally {
        removeQuietly(t);
      }
    }
  }

  static void removeTree(Path p) throws IOException {
    try (Fd d = Sys.openDirectory(p.getParent().toString())) {
      io.layerd.sys.Trees.removeAll(d.get(), p.getFileName().toString());
    }
  }

  static void removeQuietly(Path p) {
    try {
      removeTree(p);
    } catch (IOException e) {
      // best effort
    }
  }
}
