package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.SnapshotRecords.Remap;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.spi.Mount;
import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots prepared with containerd's id-mapping labels (the remap-ids capability), as root: the
 * shifted copy (vfs) with every owner mapped, made once per parent and mapping and removed with the
 * last snapshot on it; the idmapped-lower mounts (overlay2) that containerd performs.
 */
class SnapshotterRemapTest {
  private static final Map<String, String> MAP_100000 =
      Map.of(IdMapLabels.UID_LABEL, "0:100000:65536", IdMapLabels.GID_LABEL, "0:100000:65536");
  private static final Map<String, String> MAP_200000 =
      Map.of(IdMapLabels.UID_LABEL, "0:200000:65536", IdMapLabels.GID_LABEL, "0:300000:65536");

  @TempDir Path tmp;
  Engine engine;
  Snapshotter s;

  void open(String driver) throws IOException {
    engine = Engine.open(EngineConfig.of(tmp.resolve("root"), driver));
    s = Snapshotter.open(engine);
  }

  @AfterEach
  void close() throws Exception {
    if (engine != null) {
      engine.close();
    }
  }

  /** A committed image snapshot "img": files of root, of 1000:1001 and 65534, a hardlink. */
  private String image(String... extraOwnerPaths) throws Exception {
    s.prepare("extract", "", Map.of());
    Path dir = engine.driver().diffDirectory(s.stat("extract").rec().layer());
    Files.createDirectories(dir.resolve("etc"));
    Files.writeString(dir.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    Files.createDirectories(dir.resolve("home/user"));
    Files.writeString(dir.resolve("home/user/f"), "user's");
    chown(dir.resolve("home/user"), 1000, 1001);
    chown(dir.resolve("home/user/f"), 1000, 1001);
    Files.createDirectories(dir.resolve("nobody"));
    chown(dir.resolve("nobody"), 65534, 65534);
    Files.createLink(dir.resolve("etc/passwd-link"), dir.resolve("etc/passwd"));
    Files.createSymbolicLink(dir.resolve("etc/sym"), Path.of("passwd"));
    for (String p : extraOwnerPaths) {
      String[] f = p.split("=");
      Files.writeString(dir.resolve(f[0]), "x");
      chown(dir.resolve(f[0]), Long.parseLong(f[1]), Long.parseLong(f[1]));
    }
    s.commit("img", "extract", Map.of());
    return s.stat("img").rec().layer();
  }

  private static void chown(Path p, long uid, long gid) throws IOException {
    Sys.fchownat(Sys.AT_FDCWD, io.layerd.sys.Names.bytes(p.toString()), uid, gid, 0x100);
  }

  private static String owner(Path p) throws IOException {
    Stat st = Sys.lstat(p.toString());
    return st.uid() + ":" + st.gid();
  }

  @RootTest
  void aShiftedCopyOwnsEveryFileThroughTheMappingAndIsShared() throws Exception {
    open("vfs");
    String imageLayer = image();
    List<Mount> m = s.prepare("c1", "img", MAP_100000);
    Path root = Path.of(m.get(0).source());
    assertEquals("100000:100000", owner(root), "the container's root is the mapped root's");
    assertEquals("100000:100000", owner(root.resolve("etc/passwd")));
    assertEquals("101000:101001", owner(root.resolve("home/user/f")));
    assertEquals("165534:165534", owner(root.resolve("nobody")));
    assertEquals("100000:100000", owner(root.resolve("etc/sym")), "symlinks are not followed");
    assertEquals(
        Sys.lstat(root.resolve("etc/passwd").toString()).inodeKey(),
        Sys.lstat(root.resolve("etc/passwd-link").toString()).inodeKey(),
        "hardlinks stay hardlinks");
    Path image = engine.driver().diffDirectory(imageLayer);
    assertEquals("0:0", owner(image.resolve("etc/passwd")), "the image is left as it is");
    assertEquals("1000:1001", owner(image.resolve("home/user/f")));

    Remap r1 = s.stat("c1").rec().remap();
    assertEquals(RemapMethod.Kind.SHIFTED_COPY, r1.method());
    assertTrue(engine.exists(r1.base()));
    assertEquals(r1.base(), engine.store().get(s.stat("c1").rec().layer()).get().parent());

    s.prepare("c2", "img", MAP_100000);
    assertEquals(r1.base(), s.stat("c2").rec().remap().base(), "one copy per parent and mapping");
    List<Mount> v = s.view("v1", "img", MAP_100000);
    assertEquals(r1.base(), s.stat("v1").rec().layer(), "a view shows the copy");
    assertTrue(v.get(0).isReadOnly());
    s.prepare("c3", "img", MAP_200000);
    String other = s.stat("c3").rec().remap().base();
    assertNotEquals(r1.base(), other, "another mapping, another copy");
    Path root3 = engine.driver().diffDirectory(s.stat("c3").rec().layer());
    assertEquals("201000:301001", owner(root3.resolve("home/user/f")));

    // the copy goes with the last snapshot on it, committed ones included
    s.remove("c1");
    s.commit("c2-committed", "c2", Map.of());
    s.remove("v1");
    assertTrue(engine.exists(r1.base()));
    s.remove("c2-committed");
    assertFalse(engine.exists(r1.base()), "removed with the last snapshot using it");
    assertTrue(engine.exists(other));
    s.remove("c3");
    assertFalse(engine.exists(other));
    assertEquals(0, s.cleanup(), "nothing orphaned");
    assertTrue(engine.exists(imageLayer));
  }

  @RootTest
  void anIdOutsideTheMappingFailsThePrepareAndLeavesNothing() throws Exception {
    open("vfs");
    image("outside=70000");
    int layers = engine.store().all().size();
    SnapshotException e =
        assertThrows(SnapshotException.class, () -> s.prepare("c", "img", MAP_100000));
    assertEquals(io.grpc.Status.Code.FAILED_PRECONDITION, e.code());
    assertEquals(
        "cannot give snapshot c the files of img through uidmap=0:100000:65536"
            + " gidmap=0:100000:65536: \"outside\" is owned by uid 70000, which the mapping does"
            + " not cover (it maps uids 0-65535 (65,536 ids)); give a mapping whose ranges cover"
            + " every owner in the image",
        e.getMessage());
    assertEquals(layers, engine.store().all().size(), "no layer left");
    assertEquals(List.of("img"), names());
  }

  @RootTest
  void aSnapshotWithoutParentHasTheMappedRootAsItsRoot() throws Exception {
    open("vfs");
    List<Mount> m = s.prepare("c", "", MAP_200000);
    assertEquals("200000:300000", owner(Path.of(m.get(0).source())));
    assertEquals(List.of("rbind", "rw"), m.get(0).options(), "nothing for containerd to map");
  }

  @RootTest
  void overlayMountsCarryContainerdsIdmapOptionsOnRealLowerPaths() throws Exception {
    open("overlay2");
    String imageLayer = image();
    List<Mount> m = s.prepare("c", "img", MAP_100000);
    Remap r = s.stat("c").rec().remap();
    if (r.method() != RemapMethod.Kind.IDMAPPED_LOWERS) {
      // this host cannot (an old kernel, a filesystem without idmapped mounts): a copy, as vfs
      assertEquals(RemapMethod.Kind.SHIFTED_COPY, r.method());
      return;
    }
    assertEquals(null, r.base(), "nothing copied");
    assertEquals(1, m.size());
    List<String> o = m.get(0).options();
    assertEquals("overlay", m.get(0).type());
    assertTrue(o.contains("uidmap=0:100000:65536") && o.contains("gidmap=0:100000:65536"), "" + o);
    String lower = o.stream().filter(x -> x.startsWith("lowerdir=")).findFirst().orElseThrow();
    assertEquals(
        "lowerdir=" + engine.driver().diffDirectory(imageLayer).toRealPath(),
        lower,
        "the real path, not overlay2's relative short link");
    Path upper = engine.driver().diffDirectory(s.stat("c").rec().layer());
    assertEquals("100000:100000", owner(upper), "the upper root is the mapped root's");
    assertEquals(m, s.mounts("c"), "Mounts gives the same");
    List<Mount> v = s.view("v", "img", MAP_100000);
    assertTrue(v.get(0).options().contains("uidmap=0:100000:65536"), "" + v);
    assertEquals(imageLayer, s.stat("v").rec().layer(), "a view shows the image's layer");
    List<Mount> plain = s.prepare("p", "img", Map.of());
    assertFalse(plain.get(0).optionString().contains("uidmap"), "no labels, no mapping");
    assertEquals("0:0", owner(engine.driver().diffDirectory(imageLayer).resolve("etc/passwd")));
    List<String> keys = new ArrayList<>(names());
    assertEquals(List.of("c", "img", "p", "v"), keys);
  }

  private List<String> names() {
    return s.list().stream().map(Snapshotter.Info::name).sorted().toList();
  }
}
