package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.RemapMethod.Kind;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.KernelVersion;
import io.layerd.engine.spi.Mount;
import io.layerd.sys.StatFs;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which snapshots get idmapped lower layers, and why the others get a shifted copy. */
class RemapMethodTest {
  private static final Mount OVERLAY =
      new Mount("overlay", "overlay", List.of("lowerdir=/l/a/diff", "upperdir=/l/b/diff"));
  private static final FsInfo EXT4 = fs(StatFs.EXT4_SUPER_MAGIC, "ext4");

  private static FsInfo fs(long magic, String type) {
    return new FsInfo(magic, type, "/", "/dev/vda", List.of());
  }

  private static Host host(String kernel, boolean root, boolean userns) throws IOException {
    return Host.current().toBuilder()
        .kernel(KernelVersion.parse(kernel))
        .root(root)
        .userNamespace(userns)
        .build();
  }

  @Test
  void overlayOnExt4AsRootOn519IsIdmapped() throws Exception {
    RemapMethod m = RemapMethod.choose(host("5.19.0", true, false), EXT4, List.of(OVERLAY));
    assertEquals(Kind.IDMAPPED_LOWERS, m.kind(), m.reason());
    assertTrue(m.reason().contains("extfs"), m.reason());
  }

  @Test
  void aBindMountOrAFuseMountIsCopied() throws Exception {
    Host h = host("6.18.0", true, false);
    RemapMethod bind = RemapMethod.choose(h, EXT4, List.of(Mount.bind("/l/a", false)));
    assertEquals(Kind.SHIFTED_COPY, bind.kind());
    assertTrue(bind.reason().contains("bind"), bind.reason());
    RemapMethod fuse =
        RemapMethod.choose(
            h, EXT4, List.of(new Mount("fuse3.fuse-overlayfs", "overlay", List.of())));
    assertEquals(Kind.SHIFTED_COPY, fuse.kind());
    assertTrue(fuse.reason().contains("fuse3.fuse-overlayfs"), fuse.reason());
    assertEquals(Kind.SHIFTED_COPY, RemapMethod.choose(h, EXT4, List.of()).kind());
  }

  @Test
  void olderKernelsAreCopied() throws Exception {
    RemapMethod m =
        RemapMethod.choose(host("5.15.0-91-generic", true, false), EXT4, List.of(OVERLAY));
    assertEquals(Kind.SHIFTED_COPY, m.kind());
    assertTrue(m.reason().contains("5.19"), m.reason());
  }

  @Test
  void rootlessIsCopied() throws Exception {
    RemapMethod m = RemapMethod.choose(host("6.18.0", true, true), EXT4, List.of(OVERLAY));
    assertEquals(Kind.SHIFTED_COPY, m.kind());
    assertTrue(m.reason().contains("not real root"), m.reason());
  }

  @Test
  void filesystemsWithoutIdmappedMountsAreCopied() throws Exception {
    Host h61 = host("6.1.0-18-amd64", true, false);
    FsInfo tmpfs = fs(StatFs.TMPFS_MAGIC, "tmpfs");
    assertEquals(Kind.SHIFTED_COPY, RemapMethod.choose(h61, tmpfs, List.of(OVERLAY)).kind());
    assertEquals(
        Kind.IDMAPPED_LOWERS,
        RemapMethod.choose(host("6.3.0", true, false), tmpfs, List.of(OVERLAY)).kind(),
        "tmpfs allows idmapped mounts from 6.3");
    RemapMethod zfs = RemapMethod.choose(h61, fs(StatFs.ZFS_SUPER_MAGIC, "zfs"), List.of(OVERLAY));
    assertEquals(Kind.SHIFTED_COPY, zfs.kind());
    assertTrue(zfs.reason().contains("zfs"), zfs.reason());
    assertEquals(
        Kind.IDMAPPED_LOWERS,
        RemapMethod.choose(h61, fs(StatFs.BTRFS_SUPER_MAGIC, "btrfs"), List.of(OVERLAY)).kind());
  }

  @Test
  void remapIdsIsDeclaredWhereLayerdCanChown() {
    assertEquals(List.of("remap-ids"), RemapMethod.capabilities(true));
    assertEquals(List.of(), RemapMethod.capabilities(false));
  }
}
