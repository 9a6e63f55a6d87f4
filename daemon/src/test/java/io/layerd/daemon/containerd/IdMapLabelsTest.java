package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.layerd.idmap.IdRange;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** containerd's id-mapping labels, as ctr and the CRI write them (userns.IDMap.Marshal). */
class IdMapLabelsTest {
  private static Map<String, String> labels(String uid, String gid) {
    return Map.of(IdMapLabels.UID_LABEL, uid, IdMapLabels.GID_LABEL, gid);
  }

  @Test
  void noLabelsIsNoMapping() throws Exception {
    assertNull(IdMapLabels.of(Map.of("containerd.io/snapshot.ref", "sha256:x")));
  }

  @Test
  void oneRangeAsCtrWritesIt() throws Exception {
    IdMapLabels m = IdMapLabels.of(labels("0:100000:65536", "0:200000:65536"));
    assertEquals("0:100000:65536", m.uidmap());
    assertEquals("0:200000:65536", m.gidmap());
    assertEquals(100000, m.rootUid());
    assertEquals(200000, m.rootGid());
    assertEquals(List.of(new IdRange(0, 100000, 65536)), m.mappings().uids().ranges());
    assertEquals(165535, m.mappings().uids().hostIdOf(65535));
    assertEquals(-1, m.mappings().uids().hostIdOf(65536), "past the range: unmapped");
  }

  @Test
  void severalRangesAreSortedSoThatTheSameMappingHasOneKey() throws Exception {
    // containerd's overlay test writes "0:666:1000,1000:6666:64536"
    IdMapLabels a =
        IdMapLabels.of(labels("1000:6666:64536,0:666:1000", "0:888:1000,1000:8888:64536"));
    IdMapLabels b =
        IdMapLabels.of(labels("0:666:1000,1000:6666:64536", "1000:8888:64536,0:888:1000"));
    assertEquals("0:666:1000,1000:6666:64536", a.uidmap());
    assertEquals("0:888:1000,1000:8888:64536", b.gidmap());
    assertEquals(a.key(), b.key());
    assertEquals(7666, a.mappings().uids().hostIdOf(2000));
    assertEquals(666, a.rootUid());
  }

  @Test
  void differentMappingsHaveDifferentKeys() throws Exception {
    assertTrue(
        !IdMapLabels.of(labels("0:100000:65536", "0:100000:65536"))
            .key()
            .equals(IdMapLabels.of(labels("0:100000:65536", "0:100001:65536")).key()));
  }

  private static String invalid(Map<String, String> labels) {
    SnapshotException e = assertThrows(SnapshotException.class, () -> IdMapLabels.of(labels));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    return e.getMessage();
  }

  @Test
  void bothLabelsAreNeeded() {
    String msg = invalid(Map.of(IdMapLabels.UID_LABEL, "0:100000:65536"));
    assertTrue(msg.contains(IdMapLabels.GID_LABEL) && msg.contains("together"), msg);
    assertTrue(msg.contains("--remap-labels"), "names the fix: " + msg);
    invalid(labels("0:100000:65536", ""));
  }

  @Test
  void malformedRangesNameTheLabelAndThePart() {
    String msg = invalid(labels("0:100000", "0:100000:65536"));
    assertTrue(msg.contains(IdMapLabels.UID_LABEL) && msg.contains("\"0:100000\""), msg);
    assertTrue(msg.contains("CONTAINER-ID:HOST-ID:SIZE"), msg);
    invalid(labels("0:100000:65536,", "0:100000:65536"));
    invalid(labels("0:-1:65536", "0:100000:65536"));
    invalid(labels("a:b:c", "0:100000:65536"));
    invalid(labels("0:100000:0", "0:100000:65536"));
  }

  @Test
  void idsPastTheLastOneAreRefused() {
    String msg = invalid(labels("0:4294967295:1", "0:100000:65536"));
    assertTrue(msg.contains("4294967294"), msg);
  }

  @Test
  void overlappingRangesAreRefusedAsTheKernelWould() {
    String msg = invalid(labels("0:100000:65536,1000:300000:10", "0:100000:65536"));
    assertTrue(msg.contains("share container ids"), msg);
    msg = invalid(labels("0:100000:10,10:100005:10", "0:100000:65536"));
    assertTrue(msg.contains("share host ids"), msg);
  }

  @Test
  void containerRootMustBeMapped() {
    String msg = invalid(labels("1:100000:65536", "0:100000:65536"));
    assertTrue(msg.contains("does not map container id 0"), msg);
  }
}
