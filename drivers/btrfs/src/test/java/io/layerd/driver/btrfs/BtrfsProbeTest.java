package io.layerd.driver.btrfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.KernelVersion;
import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Probe refusals from a replaced filesystem probe and kernel; the ioctl numbers. */
class BtrfsProbeTest {
  @TempDir Path dataRoot;

  private static FsInfo ext4() {
    return new FsInfo(StatFs.EXT4_SUPER_MAGIC, "ext4", "/", "/dev/sda1", List.of("rw"));
  }

  private static FsInfo btrfs(String... options) {
    return new FsInfo(StatFs.BTRFS_SUPER_MAGIC, "btrfs", "/srv", "/dev/loop0", List.of(options));
  }

  private static Host.Builder rootless() throws IOException {
    return Host.current().toBuilder().root(true).userNamespace(true);
  }

  private DriverRefusal refusal(Host host) {
    DriverRefusal r =
        assertThrows(
            DriverRefusal.class,
            () ->
                new BtrfsProvider()
                    .probe(new DriverContext(dataRoot, dataRoot.resolve("btrfs"), host, Map.of())));
    assertEquals("btrfs", r.driver());
    assertFalse(Files.exists(dataRoot.resolve("btrfs")), "a refused probe leaves no home");
    return r;
  }

  @Test
  void aDataRootOnExt4IsAnIncompatibleFilesystem() throws IOException {
    DriverRefusal r = refusal(Host.current().toBuilder().filesystems(p -> ext4()).build());
    assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, r.kind());
    assertEquals("data-root is on ext4, not btrfs", r.reason());
  }

  @Test
  void theMagicDecidesNotTheName() throws IOException {
    FsInfo lying = new FsInfo(StatFs.TMPFS_MAGIC, "btrfs", "/", "x", List.of());
    DriverRefusal r = refusal(Host.current().toBuilder().filesystems(p -> lying).build());
    assertEquals(DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM, r.kind());
  }

  @Test
  void rootlessOnAnOldKernelNeedsUserSubvolRmAllowed() throws IOException {
    Host host =
        rootless().kernel(KernelVersion.parse("4.17.0")).filesystems(p -> btrfs("rw")).build();
    DriverRefusal r = refusal(host);
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("kernel 4.17.0 is older than 4.18"), r.reason());
    assertTrue(r.reason().contains("not mounted with user_subvol_rm_allowed"), r.reason());
    assertTrue(r.reason().contains("mount -o remount,user_subvol_rm_allowed /srv"), r.reason());
  }

  @Test
  void rootlessOnAnOldKernelWithTheOptionGoesOnToTheRealTest() throws IOException {
    // The option lets removal through; the real subvolume test then fails: this is not btrfs.
    Host host =
        rootless()
            .kernel(KernelVersion.parse("4.17.0"))
            .filesystems(p -> btrfs("rw", "user_subvol_rm_allowed"))
            .build();
    DriverRefusal r = refusal(host);
    assertEquals(DriverRefusal.Kind.NOT_SUPPORTED, r.kind());
    assertTrue(r.reason().contains("btrfs subvolumes cannot be made in"), r.reason());
    assertTrue(r.reason().contains("BTRFS_IOC_SUBVOL_CREATE"), r.reason());
  }

  @Test
  void ioctlNumbersAreLinuxs() {
    assertEquals(0x5000940eL, Sys.BTRFS_IOC_SUBVOL_CREATE);
    assertEquals(0x5000940fL, Sys.BTRFS_IOC_SNAP_DESTROY);
    assertEquals(0x50009417L, Sys.BTRFS_IOC_SNAP_CREATE_V2);
    assertEquals(0x80089419L, Sys.BTRFS_IOC_SUBVOL_GETFLAGS);
    assertEquals(0x4008941aL, Sys.BTRFS_IOC_SUBVOL_SETFLAGS);
    assertEquals(0x5000943fL, Sys.BTRFS_IOC_SNAP_DESTROY_V2);
    assertEquals(2L, Sys.BTRFS_SUBVOL_RDONLY);
  }

  @Test
  void namesAreSingleComponents() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Sys.btrfsSubvolumeCreate(Sys.AT_FDCWD, "a/b".getBytes(StandardCharsets.US_ASCII)));
    assertThrows(
        IllegalArgumentException.class,
        () -> Sys.btrfsSubvolumeCreate(Sys.AT_FDCWD, "..".getBytes(StandardCharsets.US_ASCII)));
    assertThrows(
        IllegalArgumentException.class, () -> Sys.btrfsSnapshotDestroy(Sys.AT_FDCWD, new byte[0]));
    assertThrows(
        IllegalArgumentException.class,
        () -> Sys.btrfsSnapshotDestroyV2(Sys.AT_FDCWD, new byte[4040]));
  }

  @Test
  void theProviderIsRegisteredAndTheDriverShapeIsPlain() throws Exception {
    assertTrue(
        ServiceLoader.load(DriverProvider.class).stream()
            .anyMatch(p -> p.type() == BtrfsProvider.class));
    assertEquals(30, new BtrfsProvider().priority());
    try (var d =
        new BtrfsProvider()
            .open(
                new DriverContext(dataRoot, dataRoot.resolve("btrfs"), Host.current(), Map.of()))) {
      assertEquals(DeletionForm.ABSENT, d.deletionForm());
      assertTrue(Files.isDirectory(dataRoot.resolve("btrfs/subvolumes")));
    }
  }
}
