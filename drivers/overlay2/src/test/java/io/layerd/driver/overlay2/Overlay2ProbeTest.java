package io.layerd.driver.overlay2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FilesystemProbe;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.KernelVersion;
import io.layerd.sys.StatFs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The probe's refusals, with the host's facts replaced: no privileges or mounts needed. */
class Overlay2ProbeTest {
  @TempDir Path dataRoot;

  static final FilesystemProbe EXT4 =
      path -> new FsInfo(StatFs.EXT4_SUPER_MAGIC, "ext4", "/", "/dev/vda", List.of("rw"));

  static Host host(String kernel, boolean root, boolean userNamespace, FilesystemProbe fs)
      throws IOException {
    return Host.current().toBuilder()
        .kernel(KernelVersion.parse(kernel))
        .root(root)
        .userNamespace(userNamespace)
        .filesystems(fs)
        .build();
  }

  DriverContext context(Host host) {
    return new DriverContext(dataRoot, dataRoot.resolve("overlay2"), host, Map.of());
  }

  static Overlay2DriverProvider provider() {
    return new Overlay2DriverProvider(
        OverlayMode.MODULE_PARAMETERS,
        scratch -> {
          throw new AssertionError("the refusal comes before the scratch directory");
        });
  }

  DriverRefusal refusal(Host host) {
    return assertThrows(DriverRefusal.class, () -> provider().probe(context(host)));
  }

  @Test
  void aUserNamespaceOnLinux510IsRefusedWithTheReason() throws IOException {
    DriverRefusal r = refusal(host("5.10.0-28-amd64", true, true, EXT4));
    assertEquals("overlay2", r.driver());
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("5.11"), r.reason());
    assertTrue(r.reason().contains("5.10.0-28-amd64"), r.reason());
    assertTrue(r.reason().contains("userxattr"), r.reason());
  }

  @Test
  void linux511InAUserNamespaceGetsPastTheKernelRule() throws Exception {
    OverlayMode mode =
        OverlayCheck.rules(
            context(host("5.11.0", true, true, EXT4)), OverlayMode.MODULE_PARAMETERS);
    assertTrue(mode.userxattr());
    assertTrue(mode.options().contains("userxattr"));
    assertFalse(mode.options().contains("redirect_dir=off"));
    assertEquals("user.overlay.opaque", mode.opaqueXattr());
    assertEquals(io.layerd.engine.spi.DeletionForm.OVERLAY_USER, mode.deletionForm());
  }

  @Test
  void asRealRootAnyKernelWithOverlayGetsPastTheKernelRule() throws Exception {
    OverlayMode mode =
        OverlayCheck.rules(
            context(host("4.19.0", true, false, EXT4)), OverlayMode.MODULE_PARAMETERS);
    assertFalse(mode.userxattr());
    assertEquals("trusted.overlay.opaque", mode.opaqueXattr());
  }

  @Test
  void neitherRootNorInAUserNamespaceIsRefused() throws IOException {
    DriverRefusal r = refusal(host("6.1.0", false, false, EXT4));
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("user namespace"), r.reason());
  }

  @Test
  void overlayOnOverlayIsRefused() throws IOException {
    FilesystemProbe overlay =
        path -> new FsInfo(StatFs.OVERLAYFS_SUPER_MAGIC, "overlay", "/", "overlay", List.of("rw"));
    DriverRefusal r = refusal(host("6.1.0", true, false, overlay));
    assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, r.kind());
    assertTrue(r.reason().contains("overlay-on-overlay"), r.reason());
    assertTrue(r.reason().contains(dataRoot.toString()), r.reason());
    // The same in a user namespace (a rootless layerd inside a container).
    DriverRefusal rootless = refusal(host("6.1.0", true, true, overlay));
    assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, rootless.kind());
  }

  @Test
  void otherFilesystemsOverlayCannotUseAreRefused() throws IOException {
    for (long magic :
        List.of(StatFs.AUFS_SUPER_MAGIC, StatFs.ECRYPTFS_SUPER_MAGIC, StatFs.NFS_SUPER_MAGIC)) {
      FilesystemProbe fs =
          path -> new FsInfo(magic, StatFs.name(magic), "/srv", "server:/x", List.of());
      DriverRefusal r = refusal(host("6.1.0", true, false, fs));
      assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, r.kind(), StatFs.name(magic));
    }
  }

  @Test
  void aFilesystemWithoutDTypeIsRefusedAndTheScratchDirectoryIsGone() throws IOException {
    Overlay2DriverProvider noDType =
        new Overlay2DriverProvider(OverlayMode.MODULE_PARAMETERS, scratch -> false);
    FilesystemProbe xfs =
        path -> new FsInfo(StatFs.XFS_SUPER_MAGIC, "xfs", "/", "/dev/sdb", List.of("rw"));
    DriverRefusal r =
        assertThrows(
            DriverRefusal.class, () -> noDType.probe(context(host("6.1.0", true, false, xfs))));
    assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, r.kind());
    assertTrue(r.reason().contains("d_type") && r.reason().contains("ftype=1"), r.reason());
    try (Stream<Path> s = Files.list(dataRoot)) {
      assertEquals(List.of(), s.toList(), "the probe leaves nothing behind");
    }
  }

  @Test
  void layersMadeAsRealRootAreRefusedInAUserNamespace() throws IOException {
    Path home = dataRoot.resolve("overlay2");
    Files.createDirectories(home);
    Files.writeString(home.resolve(Layout.XATTR_NAMESPACE), "trusted.overlay\n");
    DriverRefusal r = refusal(host("6.1.0", true, true, EXT4));
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("trusted.overlay"), r.reason());
  }

  @Test
  void unknownOverlay2OptionsAreRefused() throws IOException {
    Host h = host("6.1.0", true, false, EXT4);
    DriverContext ctx =
        new DriverContext(dataRoot, dataRoot.resolve("overlay2"), h, Map.of("overlay2.size", "1G"));
    IOException e = assertThrows(IOException.class, () -> provider().open(ctx));
    assertTrue(e.getMessage().contains("overlay2.size"), e.getMessage());
  }

  @Test
  void theProviderIsFirstByPriority() {
    Overlay2DriverProvider p = new Overlay2DriverProvider();
    assertEquals("overlay2", p.name());
    assertEquals(10, p.priority());
  }
}
