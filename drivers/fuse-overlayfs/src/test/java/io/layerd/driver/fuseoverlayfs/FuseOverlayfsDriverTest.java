package io.layerd.driver.fuseoverlayfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Mount;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mount shapes, layout and options of the driver: plain files, no mounts, no privileges. */
class FuseOverlayfsDriverTest {
  @TempDir Path dataRoot;

  private static Host host(boolean root, boolean userNamespace) throws IOException {
    return Host.current().toBuilder().root(root).userNamespace(userNamespace).build();
  }

  private FuseOverlayfsDriver open(Host host, Map<String, String> options)
      throws IOException, DriverRefusal {
    return FuseOverlayfsDriver.open(
        new DriverContext(dataRoot, dataRoot.resolve("fuse-overlayfs"), host, options));
  }

  private FuseOverlayfsDriver open() throws IOException, DriverRefusal {
    return open(host(true, false), Map.of());
  }

  private String home(String rest) {
    return dataRoot.resolve("fuse-overlayfs").resolve(rest).toString();
  }

  @Test
  void readOnlyBaseLayerMountsItsDiffAlone() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("base", null, false);
    assertEquals(
        List.of(
            new Mount(
                "fuse.fuse-overlayfs",
                "fuse-overlayfs",
                List.of("lowerdir=" + home("base/diff"), "ro"))),
        d.mounts("base", true));
    assertTrue(d.mounts("base", true).get(0).isReadOnly());
  }

  @Test
  void readOnlyChildStacksItsDiffOnTheParentChainNearestFirst() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("a", null, false);
    d.create("b", "a", false);
    d.create("c", "b", false);
    assertEquals(
        List.of("lowerdir=" + home("c/diff") + ":" + home("b/diff") + ":" + home("a/diff"), "ro"),
        d.mounts("c", true).get(0).options());
    assertEquals("b:a", Files.readString(Path.of(home("c/lower"))));
    assertEquals(List.of("b", "a"), d.lowerChain("c"));
  }

  @Test
  void readWriteLayerWritesToItsDiffOverItsParents() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("a", null, false);
    d.create("b", "a", false);
    d.create("rw", "b", true);
    assertEquals(
        List.of(
            new Mount(
                "fuse.fuse-overlayfs",
                "fuse-overlayfs",
                List.of(
                    "lowerdir=" + home("b/diff") + ":" + home("a/diff"),
                    "upperdir=" + home("rw/diff"),
                    "workdir=" + home("rw/work")))),
        d.mounts("rw", false));
    assertFalse(d.mounts("rw", false).get(0).isReadOnly());
  }

  @Test
  void readWriteBaseLayerHasAnEmptyLowerDirectory() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("rw", null, true);
    assertEquals(
        List.of(
            "lowerdir=" + home("rw/empty"),
            "upperdir=" + home("rw/diff"),
            "workdir=" + home("rw/work")),
        d.mounts("rw", false).get(0).options());
    assertTrue(Files.isDirectory(Path.of(home("rw/empty"))));
  }

  @Test
  void idMappingOptionsAreAddedInAFixedOrder() throws Exception {
    FuseOverlayfsDriver d =
        open(
            host(false, true),
            Map.of(
                "fuse-overlayfs.gidmapping", "0:100000:65536",
                "fuse-overlayfs.uidmapping", "0:100000:1:1:200000:65535",
                "overlay2.size", "ignored: another driver's"));
    d.create("a", null, false);
    assertEquals(
        List.of(
            "lowerdir=" + home("a/diff"),
            "uidmapping=0:100000:1:1:200000:65535",
            "gidmapping=0:100000:65536",
            "ro"),
        d.mounts("a", true).get(0).options());
  }

  @Test
  void badOptionsAreRefusedWithTheirName() {
    IOException e =
        assertThrows(
            IOException.class,
            () -> open(host(true, false), Map.of("fuse-overlayfs.mountopt", "x")));
    assertTrue(e.getMessage().contains("fuse-overlayfs.mountopt"), e.getMessage());
    e =
        assertThrows(
            IOException.class,
            () -> open(host(true, false), Map.of("fuse-overlayfs.uidmapping", "0:1000")));
    assertTrue(e.getMessage().contains("CONTAINER:HOST:COUNT"), e.getMessage());
  }

  @Test
  void aHomeWithAColonCannotBeMounted() {
    DriverRefusal r =
        assertThrows(
            DriverRefusal.class,
            () ->
                FuseOverlayfsDriver.open(
                    new DriverContext(
                        dataRoot,
                        dataRoot.resolve("a:b").resolve("fuse-overlayfs"),
                        host(true, false),
                        Map.of())));
    assertEquals(DriverRefusal.Kind.NOT_SUPPORTED, r.kind());
    assertTrue(r.reason().contains("':'"), r.reason());
  }

  @Test
  void tooLongAChainForOneArgumentIsAnError() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("a", null, false);
    d.create("top", "a", false);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3000; i++) {
      ids.add("layer-" + i);
    }
    Files.writeString(Path.of(home("top/lower")), String.join(":", ids));
    IOException e = assertThrows(IOException.class, () -> d.mounts("top", true));
    assertTrue(e.getMessage().contains("3000 parents"), e.getMessage());
  }

  @Test
  void deletionFormFollowsTheUserNamespace() throws Exception {
    assertEquals(DeletionForm.OVERLAY_TRUSTED, open().deletionForm());
    assertEquals(DeletionForm.OVERLAY_USER, open(host(true, true), Map.of()).deletionForm());
    assertTrue(open().capabilities().contains(Capability.DEVICES));
    assertFalse(open(host(true, true), Map.of()).capabilities().contains(Capability.DEVICES));
    assertTrue(open().capabilities().contains(Capability.NEEDS_MOUNT));
    assertTrue(open().capabilities().contains(Capability.ROOTLESS));
  }

  @Test
  void createRemoveAndExist() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("a", null, false);
    assertTrue(d.exists("a"));
    assertThrows(FileAlreadyExistsException.class, () -> d.create("a", null, false));
    assertThrows(NoSuchFileException.class, () -> d.create("b", "missing", false));
    assertFalse(d.exists("b"));
    Files.writeString(d.diffDirectory("a").resolve("f"), "x");
    d.remove("a");
    assertFalse(d.exists("a"));
    d.remove("a"); // idempotent
    assertThrows(NoSuchFileException.class, () -> d.mounts("a", true));
    try (var s = Files.list(Path.of(home("")))) {
      assertEquals(0, s.count(), "nothing left in the home");
    }
  }

  @Test
  void leftOversOfACrashAreRemovedOnOpen() throws Exception {
    open().create("a", null, false);
    Path creating = Path.of(home("+creating-b-1234"));
    Files.createDirectories(creating.resolve("diff/x"));
    Path removing = Path.of(home("+removing-c-1234"));
    Files.createDirectories(removing.resolve("diff"));
    FuseOverlayfsDriver d = open();
    assertFalse(Files.exists(creating));
    assertFalse(Files.exists(removing));
    assertTrue(d.exists("a"));
  }

  @Test
  void metadataNamesTheDirectories() throws Exception {
    FuseOverlayfsDriver d = open();
    d.create("a", null, false);
    d.create("b", "a", true);
    assertEquals(
        Map.of(
            "LowerDir", home("a/diff"),
            "UpperDir", home("b/diff"),
            "WorkDir", home("b/work")),
        d.metadata("b"));
    assertFalse(d.metadata("a").containsKey("LowerDir"));
  }

  @Test
  void versionsParse() throws IOException {
    String out =
        "fusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\n"
            + "FUSE library version 3.14.0\nusing FUSE kernel interface version 7.31\n";
    assertEquals(new FuseOverlayfsVersion(1, 10, 0), FuseOverlayfsVersion.parse(out));
    assertEquals(
        new FuseOverlayfsVersion(0, 7, 6),
        FuseOverlayfsVersion.parse("fuse-overlayfs: version 0.7.6"));
    assertTrue(new FuseOverlayfsVersion(1, 10, 0).atLeast(FuseOverlayfsVersion.MIN_USER_NAMESPACE));
    assertFalse(new FuseOverlayfsVersion(1, 7, 1).atLeast(FuseOverlayfsVersion.MIN_USER_NAMESPACE));
    assertThrows(IOException.class, () -> FuseOverlayfsVersion.parse("fuse-overlayfs ?"));
    assertEquals("1.10", new FuseOverlayfsVersion(1, 10, 0).toString());
  }
}
