package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import org.junit.jupiter.api.io.TempDir;

/**
 * Applying as an unprivileged user inside a user namespace ({@code unshare --user --map-root-user
 * --map-auto}, 65,536 ids): what the kernel refuses there is skipped and counted, or a clear error.
 * The scenarios run in a child JVM as {@link TestUser#standard()}; the test looks at the result
 * from outside too.
 */
class UserNamespaceApplyTest {
  @TempDir Path tmp;

  static ApplyResult apply(LayerApplier a, Path root, TarBuilder t) throws IOException {
    return Layers.apply(a, root, "userns-layer", t.build());
  }

  /** A directory the test user may write to, inside the (root-only) temp dir. */
  Path workDir(TestUser u) throws IOException {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path w = Files.createDirectory(tmp.resolve("work"));
    UserPrincipal owner =
        tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(u.name());
    Files.setOwner(w, owner);
    return w;
  }

  // ---------------------------------------------------------------- scenarios (in the child)

  static void devicesFifosXattrsOwners(String[] args) throws IOException {
    Path root = Files.createDirectory(Path.of(args[0], "root"));
    ApplyResult r =
        apply(
            LayerApplier.builder().build(),
            root,
            TarBuilder.create()
                .charDevice("dev/null", 1, 3)
                .mode(0666)
                .blockDevice("dev/sda", 8, 0)
                .fifo("run/fifo")
                .mode(0620)
                .file("f", "f")
                .xattr("trusted.secret", "t")
                .xattr("user.note", "u")
                .file("owned", "o")
                .owner(1000, 1001)
                .dir("top/")
                .owner(65535, 65535)
                .mode(0750));
    assertEquals(2, r.skipped().devices(), r.warnings().toString());
    assertEquals(1, r.skipped().xattrs(), r.warnings().toString());
    assertTrue(
        r.warnings().stream().anyMatch(w -> w.contains("skipped device 'dev/null'")),
        r.warnings().toString());
    assertTrue(
        r.warnings().stream().anyMatch(w -> w.contains("trusted.secret") && w.contains("'f'")),
        r.warnings().toString());
    assertTrue(Files.notExists(root.resolve("dev/null")));
    assertTrue(Files.notExists(root.resolve("dev/sda")));
    Stat fifo = Sys.lstat(root.resolve("run/fifo").toString());
    assertTrue(fifo.isFifo());
    assertEquals(0620, fifo.permissions());
    assertArrayEquals(bytes("u"), Layers.xattr(root.resolve("f"), "user.note"));
    assertNull(Layers.xattr(root.resolve("f"), "trusted.secret"));
    Stat owned = Sys.lstat(root.resolve("owned").toString());
    assertEquals("1000:1001", owned.uid() + ":" + owned.gid());
    Stat top = Sys.lstat(root.resolve("top").toString());
    assertEquals("65535:65535", top.uid() + ":" + top.gid());
  }

  static void strictDevicesAndUnmappedIds(String[] args) throws IOException {
    Path a = Files.createDirectory(Path.of(args[0], "strict"));
    LayerApplyException strict =
        assertThrows(
            LayerApplyException.class,
            () ->
                apply(
                    LayerApplier.builder().strictDevices(true).build(),
                    a,
                    TarBuilder.create().charDevice("dev/null", 1, 3)));
    assertTrue(strict.getMessage().contains("dev/null"), strict.getMessage());
    assertTrue(strict.getMessage().contains("EPERM"), strict.getMessage());

    Path b = Files.createDirectory(Path.of(args[0], "unmapped"));
    LayerApplyException unmapped =
        assertThrows(
            LayerApplyException.class,
            () ->
                apply(
                    LayerApplier.builder().build(),
                    b,
                    TarBuilder.create()
                        .file("fine", "")
                        .owner(10, 10)
                        .file("far", "")
                        .owner(70000, 0)));
    String m = unmapped.getMessage();
    assertTrue(m.contains("layer userns-layer"), m);
    assertTrue(m.contains("'far'"), m);
    assertTrue(m.contains("70000"), m);
    assertTrue(m.contains("does not map"), m);
  }

  static void overlayWithUserXattrs(String[] args) throws IOException {
    Path root = Files.createDirectory(Path.of(args[0], "upper"));
    ApplyResult r =
        apply(
            LayerApplier.builder()
                .whiteouts(WhiteoutMode.OVERLAY)
                .overlayXattrs(OverlayXattrs.USER)
                .build(),
            root,
            TarBuilder.create()
                .dir("etc/")
                .opaque("etc")
                .file("etc/hosts", "h")
                .whiteout("etc/gone")
                .whiteout("usr/lib/removed")
                .file("f", "")
                .xattr("user.overlay.redirect", "/x"));
    assertEquals(0, r.skipped().xattrs(), r.warnings().toString());
    assertArrayEquals(bytes("y"), Layers.xattr(root.resolve("etc"), "user.overlay.opaque"));
    for (String w : new String[] {"etc/gone", "usr/lib/removed"}) {
      Stat st = Sys.lstat(root.resolve(w).toString());
      assertTrue(st.isCharDevice() && st.rdevMajor() == 0 && st.rdevMinor() == 0, w);
    }
    assertNull(Layers.xattr(root.resolve("f"), "user.overlay.redirect"));
    assertArrayEquals(
        bytes("/x"), Layers.xattr(root.resolve("f"), "user.overlay.overlay.redirect"));
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- the tests

  @UserNsTest
  void devicesAreSkippedFifosKeptTrustedXattrsRefusedOwnersMapped() throws IOException {
    TestUser u = TestUser.standard();
    Path work = workDir(u);
    ChildJvm.call(
            u,
            Mode.USER_NAMESPACE,
            UserNamespaceApplyTest::devicesFifosXattrsOwners,
            work.toString())
        .assertSuccess();
    // From outside: the namespace's 1000 is the user's subordinate id 999 places in.
    Stat owned = Sys.lstat(work.resolve("root/owned").toString());
    assertEquals(u.subuidStart() + 999, owned.uid());
    assertEquals(u.subgidStart() + 1000, owned.gid());
    TreeManifest m =
        TreeManifest.of(
            work.resolve("root"),
            TreeManifest.Options.builder().ignoreMtimes().userNamespace(u).build());
    assertEquals(1000L, m.get("owned").orElseThrow().uid());
    assertEquals(0L, m.get("run").orElseThrow().uid(), "an implied directory belongs to root");
    assertEquals(65535L, m.get("top").orElseThrow().uid());
  }

  @UserNsTest
  void strictDevicesFailAndAnUnmappedIdIsAClearError() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.call(
            u,
            Mode.USER_NAMESPACE,
            UserNamespaceApplyTest::strictDevicesAndUnmappedIds,
            workDir(u).toString())
        .assertSuccess();
  }

  @UserNsTest
  void overlayModeUsesUserXattrs() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.call(
            u,
            Mode.USER_NAMESPACE,
            UserNamespaceApplyTest::overlayWithUserXattrs,
            workDir(u).toString())
        .assertSuccess();
  }
}
