package io.layerd.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DataRootException;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.spi.FilesystemProbe;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.sys.Stat;
import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import io.layerd.unpack.OwnerMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataRootTest {
  @TempDir Path tmp;

  /** The real host, except that every path is on the filesystem {@code fs}. */
  static Host hostOn(FsInfo fs) throws IOException {
    return Host.current().toBuilder().filesystems(path -> fs).build();
  }

  private static void assertNfsMessage(String message) {
    assertTrue(message.contains("NFS is not supported as a data-root"), message);
    assertTrue(message.contains("chown"), "says why: " + message);
    assertTrue(message.contains("\"data-root\": \"/somewhere-out-of-nfs\""), message);
    assertTrue(message.contains("config file"), message);
  }

  @Test
  void nfsByMagicIsRefusedBeforeAnythingIsWritten() throws IOException {
    Host host =
        hostOn(new FsInfo(StatFs.NFS_SUPER_MAGIC, "ext4", "/srv", "", List.of())); // magic only
    Path root = tmp.resolve("not/yet/root");
    DataRootException e = assertThrows(DataRootException.class, () -> DataRoot.prepare(root, host));
    assertNfsMessage(e.getMessage());
    assertFalse(Files.exists(tmp.resolve("not")), "nothing is created");
  }

  @Test
  void nfs4ByMountTypeIsRefusedBeforeAnythingIsWritten() throws IOException {
    Host host =
        hostOn(
            new FsInfo(
                StatFs.EXT4_SUPER_MAGIC, "nfs4", "/home", "filer:/export/home", List.of("rw")));
    Path root = tmp.resolve("root");
    DataRootException e = assertThrows(DataRootException.class, () -> DataRoot.prepare(root, host));
    assertNfsMessage(e.getMessage());
    assertTrue(e.getMessage().contains("filer:/export/home"), "names the share");
    assertFalse(Files.exists(root));

    // The engine refuses it the same way, before taking a lock or writing a cache.
    EngineConfig config =
        new EngineConfig(root, null, Map.of(), host, List.of(), OwnerMapper.identity());
    DataRootException viaEngine = assertThrows(DataRootException.class, () -> Engine.open(config));
    assertNfsMessage(viaEngine.getMessage());
    assertFalse(Files.exists(root));
    try (var s = Files.list(tmp)) {
      assertEquals(0, s.count(), "nothing at all is written");
    }
  }

  @Test
  void aMissingDataRootIsMadePrivateToTheUser() throws IOException {
    Path root = tmp.resolve("a/b/root");
    Path made = DataRoot.prepare(root, Host.current());
    assertEquals(root.toAbsolutePath(), made);
    Stat st = Sys.lstat(made.toString());
    assertTrue(st.isDirectory());
    assertEquals(0700, st.permissions());
    assertEquals(Sys.geteuid(), st.uid());
    // An existing one is taken as it is.
    assertEquals(made, DataRoot.prepare(root, Host.current()));
  }

  /** Issue 14, item 9: a data-root layerd cannot make printed only "layerd: DIR". */
  @Test
  void aDataRootThatCannotBeMadeSaysWhatToFix() {
    // sysfs refuses every mkdir, even root's: the same failure a user meets under /var/lib.
    Path root = Path.of("/sys/layerd-test-data-root/root");
    DataRootException e =
        assertThrows(DataRootException.class, () -> DataRoot.prepare(root, Host.current()));
    assertTrue(
        e.getMessage().startsWith("data-root " + root + " cannot be made: uid "), e.getMessage());
    assertTrue(
        e.getMessage().contains("may not create /sys/layerd-test-data-root"), e.getMessage());
    assertTrue(e.getMessage().contains("choose another --data-root"), e.getMessage());
  }

  @Test
  void aFileInTheWayIsRefused() throws IOException {
    Path file = Files.writeString(tmp.resolve("file"), "x");
    DataRootException e =
        assertThrows(DataRootException.class, () -> DataRoot.prepare(file, Host.current()));
    assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
  }

  @Test
  void theSystemProbeSeesThisFilesystem() throws IOException {
    FsInfo fs = FilesystemProbe.system().probe(tmp);
    assertFalse(fs.isNfs());
    assertFalse(fs.backingName().isEmpty());
    assertTrue(tmp.toRealPath().toString().startsWith(fs.mountPoint()));
  }
}
