package io.layerd.idmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.SysException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class IdRemapperTest {
  private static final UserAccount USER = new UserAccount("layerd-test", 1001, 1001);
  private static final String SUBUID = "alice:100000:65536\nlayerd-test:165536:65536\n";

  private static SubordinateIds subIds(String subuid, String subgid) {
    return SubordinateIds.of(
        USER,
        SubIdFile.parse(Path.of("/etc/subuid"), subuid),
        SubIdFile.parse(Path.of("/etc/subgid"), subgid));
  }

  /** Inside layerd's own namespace for layerd-test: the rootless layout. */
  private static IdRemapper rootless(UnmappedIdPolicy policy) throws IOException {
    SubordinateIds s = subIds(SUBUID, SUBUID);
    return IdRemapper.builder()
        .processMappings(s.rootlessLayout())
        .subordinateIds(s)
        .policy(policy)
        .build();
  }

  @Test
  void mappedIdsPassThroughInsideTheNamespace() throws IOException {
    IdRemapper r = rootless(UnmappedIdPolicy.FAIL);
    assertEquals(new Owner(0, 0, false, false), r.owner("l", "etc", 0, 0));
    assertEquals(new Owner(65536, 42, false, false), r.owner("l", "x", 65536, 42));
    assertTrue(r.fits(IdKind.UID, 65536));
    assertFalse(r.fits(IdKind.UID, 65537));
  }

  @Test
  void failNamesLayerEntryIdRangeSourceAndFix() throws IOException {
    IdRemapper r = rootless(UnmappedIdPolicy.FAIL);
    UnmappedIdException e =
        assertThrows(
            UnmappedIdException.class,
            () -> r.owner("sha256:5f70bf18a086", "usr/share/app/data", 70000, 0));
    assertEquals("sha256:5f70bf18a086", e.layer());
    assertEquals("usr/share/app/data", e.entryPath());
    assertEquals(IdKind.UID, e.kind());
    assertEquals(70000, e.id());
    assertEquals(UnmappedIdException.Reason.NAMESPACE, e.reason());
    assertEquals(65536, e.idsHeld());
    assertEquals(70000, e.idsNeeded());
    assertEquals(
        List.of(new SubIdRange("layerd-test", 165536, 65536, Path.of("/etc/subuid"), 2)),
        e.sourceRanges());
    assertEquals(
        List.of(
            new RangeSuggestion(IdKind.UID, 231072, 65536),
            new RangeSuggestion(IdKind.GID, 231072, 65536)),
        e.suggestions());
    String m = e.getMessage();
    assertFalse(m.contains("\n"), "one paragraph");
    for (String part :
        List.of(
            "layer \"sha256:5f70bf18a086\"",
            "\"usr/share/app/data\" is owned by uid 70000",
            "does not map",
            "uids 0-65536 (65,537 ids)",
            "0 -> host 1001 (layerd-test's own uid)",
            "1-65536 -> host 165536-231071 from /etc/subuid:2 \"layerd-test:165536:65536\"",
            "invalid argument",
            "at least 70,000 subordinate uids; layerd-test has 65,536 (/etc/subuid:2)",
            "`sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 layerd-test`",
            "then restart layerd",
            "--on-unmapped-id=squash",
            "--on-unmapped-id=skip")) {
      assertTrue(m.contains(part), () -> "message lacks «" + part + "»: " + m);
    }
    assertTrue(e.remedy().startsWith("To map uid 70000"), e.remedy());
  }

  @Test
  void gidIsCheckedToo() throws IOException {
    IdRemapper r = rootless(UnmappedIdPolicy.FAIL);
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 0, 100000));
    assertEquals(IdKind.GID, e.kind());
    assertTrue(e.getMessage().contains("owned by gid 100000"), e.getMessage());
    assertTrue(e.getMessage().contains("/etc/subgid:2"), e.getMessage());
    // uids listed first in the command, as usermod's manual does
    assertTrue(
        e.getMessage().contains("--add-subuids 231072-296607 --add-subgids 231072-296607"),
        e.getMessage());
  }

  @Test
  void onlyTheKindThatFallsShortIsAdded() throws IOException {
    SubordinateIds s = subIds(SUBUID, "layerd-test:165536:200000\n");
    IdRemapper r =
        IdRemapper.builder()
            .processMappings(new IdMappings(s.rootlessLayout().uids(), IdMapping.identity()))
            .subordinateIds(s)
            .build();
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 70000, 0));
    assertTrue(e.getMessage().contains("sudo usermod --add-subuids 231072-296607 layerd-test"));
  }

  @Test
  void squashGivesUnmappedIdsToTheNamespacesRoot() throws IOException {
    IdRemapper.LayerRemap l = rootless(UnmappedIdPolicy.SQUASH).forLayer("sha256:aa");
    assertEquals(new Owner(0, 0, true, false), l.owner("a", 70000, 70000));
    assertEquals(new Owner(5, 0, true, false), l.owner("b", 5, 99999));
    assertEquals(new Owner(5, 5, false, false), l.owner("c", 5, 5));
    assertEquals(3, l.entries());
    assertEquals(2, l.squashedEntries());
    assertEquals(0, l.skippedEntries());
    assertTrue(
        l.summary().contains("2 entries with unmapped owners given to the namespace's root"));
  }

  @Test
  void skipLeavesTheOwnerAndCounts() throws IOException {
    IdRemapper.LayerRemap l = rootless(UnmappedIdPolicy.SKIP).forLayer("sha256:aa");
    Owner o = l.owner("a", 70000, 7);
    assertEquals(new Owner(Owner.KEEP, 7, false, true), o);
    assertTrue(o.changesOwner());
    Owner both = l.owner("b", 70000, 70000);
    assertFalse(both.changesOwner());
    assertEquals(2, l.skippedEntries());
    assertEquals("", rootless(UnmappedIdPolicy.SKIP).forLayer("x").summary());
  }

  @Test
  void perIdMappingCountsEachEntryOnce() throws IOException {
    IdRemapper.LayerRemap l = rootless(UnmappedIdPolicy.SQUASH).forLayer("sha256:aa");
    assertEquals(0, l.map(IdKind.UID, "a", 70000));
    assertEquals(0, l.map(IdKind.GID, "a", 70000));
    assertEquals(7, l.map(IdKind.UID, "b", 7));
    assertEquals(1, l.squashedEntries());
    IdRemapper.LayerRemap k = rootless(UnmappedIdPolicy.SKIP).forLayer("sha256:aa");
    assertEquals(Owner.KEEP, k.map(IdKind.GID, "a", 70000));
    assertEquals(1, k.skippedEntries());
    IdRemapper.LayerRemap f = rootless(UnmappedIdPolicy.FAIL).forLayer("sha256:aa");
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> f.map(IdKind.GID, "etc/x", 65537));
    assertEquals("sha256:aa", e.layer());
    assertEquals(IdKind.GID, e.kind());
  }

  @Test
  void invalidIdsAreNamedAsSuch() throws IOException {
    IdRemapper r =
        IdRemapper.builder().processMappings(IdMappings.identity()).subordinateIds(null).build();
    assertEquals(new Owner(4294967294L, 0, false, false), r.owner("l", "f", 4294967294L, 0));
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 4294967295L, 0));
    assertEquals(UnmappedIdException.Reason.INVALID_ID, e.reason());
    assertTrue(e.getMessage().contains("not a valid id"), e.getMessage());
  }

  @Test
  void unshareMapAutoNamespaceWhileTheFilesAreEnough() throws IOException {
    // `unshare --map-root-user --map-auto` maps 65,535 of the 65,536 ids
    SubordinateIds s = subIds(SUBUID, SUBUID);
    IdMapping m = IdMapping.parseProcMap("0 1001 1\n1 165536 65535\n");
    IdRemapper r =
        IdRemapper.builder().processMappings(new IdMappings(m, m)).subordinateIds(s).build();
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 65536, 0));
    assertTrue(e.suggestions().isEmpty());
    assertTrue(e.getMessage().contains("enough for uid 65536"), e.getMessage());
    assertTrue(e.getMessage().contains("--map-auto"), e.getMessage());
  }

  @Test
  void dockerRemapShiftsAndExplains() throws IOException {
    // rootful dockerd --userns-remap=dockremap: chown takes host ids
    UserAccount dockremap = new UserAccount("dockremap", 120, 127);
    String file = "layerd-test:100000:65536\ndockremap:165536:65536\n";
    SubordinateIds s =
        SubordinateIds.of(
            dockremap,
            SubIdFile.parse(Path.of("/etc/subuid"), file),
            SubIdFile.parse(Path.of("/etc/subgid"), file));
    IdMappings shift =
        IdMappings.fromDocker(
            List.of(Map.of("container_id", 0, "host_id", 165536, "size", 65536)),
            List.of(Map.of("container_id", 0, "host_id", 165536, "size", 65536)));
    IdRemapper r =
        IdRemapper.builder()
            .processMappings(IdMappings.identity())
            .shift(shift)
            .subordinateIds(s)
            .build();
    assertEquals(new Owner(165536, 165536 + 42, false, false), r.owner("l", "f", 0, 42));
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 65536, 0));
    assertEquals(UnmappedIdException.Reason.DOCKER_REMAP, e.reason());
    assertEquals(65537, e.idsNeeded());
    String m = e.getMessage();
    assertTrue(m.contains("--userns-remap map does not cover"), m);
    assertTrue(m.contains("0-65535 -> host 165536-231071 from /etc/subuid:2"), m);
    assertTrue(m.contains("sudo usermod --add-subuids 231072-296607"), m);
    assertTrue(m.contains("dockremap"), m);
    assertTrue(m.contains("restart dockerd"), m);
    assertEquals(
        new Owner(165536, 165536, true, false),
        r.withPolicy(UnmappedIdPolicy.SQUASH).owner("l", "f", 65536, 65536));

    // Diff undoes the shift: host ids back to the layer's, and none for a host id outside it
    assertEquals(0, r.containerId(IdKind.UID, 165536));
    assertEquals(42, r.containerId(IdKind.GID, 165536 + 42));
    assertEquals(-1, r.containerId(IdKind.UID, 1000), "a host id the remap does not cover");
    assertEquals(
        1000,
        IdRemapper.builder()
            .processMappings(IdMappings.identity())
            .build()
            .containerId(IdKind.UID, 1000),
        "without a shift, the same id");
  }

  @Test
  void chownEinvalBecomesTheUnmappedError() throws IOException {
    IdRemapper r = rootless(UnmappedIdPolicy.FAIL);
    IOException einval = SysException.of("fchownat", 22, "/rootfs/f", null);
    IOException explained = r.explainChownFailure("l", "f", 70000, 0, einval);
    assertTrue(explained instanceof UnmappedIdException);
    assertSame(einval, explained.getCause());
    IOException eperm = SysException.of("fchownat", 1, "/rootfs/f", null);
    assertSame(eperm, r.explainChownFailure("l", "f", 70000, 0, eperm));
  }

  @Test
  void unknownUserStillGivesAUsableMessage() throws IOException {
    IdMapping m = IdMapping.parseProcMap("0 1001 1\n1 165536 65536\n");
    IdRemapper r =
        IdRemapper.builder().processMappings(new IdMappings(m, m)).subordinateIds(null).build();
    UnmappedIdException e =
        assertThrows(UnmappedIdException.class, () -> r.owner("l", "f", 70000, 0));
    assertTrue(
        e.getMessage().contains("at least 70,000 subordinate uids in /etc/subuid"), e.getMessage());
    assertEquals(-1, e.idsHeld());
  }
}
