package io.layerd.idmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.idmap.internal.RootlessMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdMappingTest {
  /** What /proc/self/uid_map shows under `unshare --map-root-user --map-auto` for uid 1001. */
  private static final String UNSHARE_MAP =
      "         0       1001          1\n         1     165536      65535\n";

  @Test
  void parsesTheKernelsPaddedFormat() {
    IdMapping m = IdMapping.parseProcMap(UNSHARE_MAP);
    assertEquals(List.of(new IdRange(0, 1001, 1), new IdRange(1, 165536, 65535)), m.ranges());
    assertEquals(65536, m.size());
    assertEquals(OptionalLong.of(65535), m.highestContainerId());
    assertEquals("0 1001 1\n1 165536 65535\n", m.toProcMap());
  }

  @Test
  void lookupsBothWaysAtTheBoundaries() {
    IdMapping m = IdMapping.parseProcMap(UNSHARE_MAP);
    assertEquals(OptionalLong.of(1001), m.toHost(0));
    assertEquals(OptionalLong.of(165536), m.toHost(1));
    assertEquals(OptionalLong.of(231070), m.toHost(65535));
    assertEquals(OptionalLong.empty(), m.toHost(65536));
    assertEquals(OptionalLong.empty(), m.toHost(-1));
    assertEquals(OptionalLong.of(0), m.toContainer(1001));
    assertEquals(OptionalLong.of(1), m.toContainer(165536));
    assertEquals(OptionalLong.of(65535), m.toContainer(231070));
    assertEquals(OptionalLong.empty(), m.toContainer(231071));
    assertEquals(OptionalLong.empty(), m.toContainer(165535));
    assertEquals(OptionalLong.empty(), m.toContainer(1000));
    assertTrue(m.isMapped(65535));
    assertFalse(m.isMapped(65536));
    assertEquals(-1, m.hostIdOf(70000));
    assertEquals(-1, m.containerIdOf(0));
  }

  @Test
  void identityCoversAll32BitIdsButMinusOne() {
    IdMapping id = IdMapping.parseProcMap("         0          0 4294967295\n");
    assertTrue(id.isIdentity());
    assertEquals(IdMapping.identity(), id);
    assertEquals(OptionalLong.of(4294967294L), id.toHost(4294967294L));
    assertEquals(OptionalLong.empty(), id.toHost(4294967295L));
    assertEquals(OptionalLong.empty(), id.toHost(1L << 32));
    assertEquals(OptionalLong.empty(), id.toHost(Long.MAX_VALUE));
    assertEquals(OptionalLong.empty(), id.toHost(Long.MIN_VALUE));
    assertEquals(4294967295L, id.size());
    assertEquals(OptionalLong.of(4294967294L), id.highestContainerId());
  }

  @Test
  void rangesTouchingTheTopOfTheIdSpace() {
    IdMapping m = IdMapping.of(new IdRange(4294967294L, 0, 1), new IdRange(0, 4294967294L, 1));
    assertEquals(OptionalLong.of(0), m.toHost(4294967294L));
    assertEquals(OptionalLong.of(4294967294L), m.toContainer(0));
    assertEquals(OptionalLong.of(0), m.toContainer(4294967294L));
    assertThrows(IllegalArgumentException.class, () -> new IdRange(4294967295L, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new IdRange(0, 4294967294L, 2));
    assertThrows(IllegalArgumentException.class, () -> new IdRange(0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new IdRange(-1, 0, 1));
  }

  @Test
  void emptyMapMapsNothing() {
    IdMapping m = IdMapping.parseProcMap("");
    assertTrue(m.isEmpty());
    assertFalse(m.isMapped(0));
    assertEquals(0, m.size());
    assertEquals(OptionalLong.empty(), m.highestContainerId());
  }

  @Test
  void overlappingRangesAreRefusedLikeTheKernelDoes() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> IdMapping.of(new IdRange(0, 1000, 10), new IdRange(5, 5000, 10)));
    assertTrue(e.getMessage().contains("container ids"));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> IdMapping.of(new IdRange(0, 1000, 10), new IdRange(100, 1009, 10)));
    assertTrue(e.getMessage().contains("host ids"));
  }

  @Test
  void badProcLineIsNamed() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> IdMapping.parseProcMap("0 1000 1\n1 2 x\n"));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void manyRangesLookUpCorrectly() {
    // 340 ranges (the kernel's maximum), given out of order: binary search both ways
    List<IdRange> ranges = new ArrayList<>();
    for (int i = 339; i >= 0; i--) {
      ranges.add(new IdRange(i * 100L, 1_000_000L - i * 1000L, 50));
    }
    IdMapping m = IdMapping.of(ranges);
    for (int i = 0; i < 340; i++) {
      long c = i * 100L;
      long h = 1_000_000L - i * 1000L;
      assertEquals(h, m.hostIdOf(c));
      assertEquals(h + 49, m.hostIdOf(c + 49));
      assertEquals(-1, m.hostIdOf(c + 50));
      assertEquals(c + 49, m.containerIdOf(h + 49));
      assertEquals(-1, m.containerIdOf(h + 50));
    }
    assertEquals(340 * 50, m.size());
    assertFalse(m.isContiguousFromZero());
  }

  @Test
  void rootlessLayoutMapsEveryRangeAfterTheOwnId() {
    IdMapping m =
        IdMapping.rootless(
            1001, List.of(SubIdRange.of("u", 231072, 65536), SubIdRange.of("u", 400000, 1000)));
    assertEquals(
        List.of(
            new IdRange(0, 1001, 1),
            new IdRange(1, 231072, 65536),
            new IdRange(65537, 400000, 1000)),
        m.ranges());
    assertEquals(OptionalLong.of(66536), m.highestContainerId());
    assertTrue(m.isContiguousFromZero());
    assertEquals(OptionalLong.of(296607), m.toHost(65536));
    assertEquals(OptionalLong.of(400000), m.toHost(65537));
    assertEquals(
        List.of("0", "1001", "1", "1", "231072", "65536", "65537", "400000", "1000"),
        m.toMapToolArgs());
    assertEquals(IdMapping.of(new IdRange(0, 1001, 1)), IdMapping.rootless(1001, List.of()));
  }

  @Test
  void rootlessLayoutRefusesOverlaps() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            IdMapping.rootless(
                1001, List.of(SubIdRange.of("u", 100000, 10), SubIdRange.of("u", 100005, 10))));
    assertThrows(
        IllegalArgumentException.class,
        () -> IdMapping.rootless(100001, List.of(SubIdRange.of("u", 100000, 10))));
  }

  @Test
  void dockerMapsAsDockerdSendsThem() {
    // GraphDriver.Init body of a --userns-remap daemon (shared/reference/wire-gd-remap.log)
    IdMapping m =
        IdMapping.fromDocker(List.of(Map.of("container_id", 0, "host_id", 165536, "size", 65536)));
    assertEquals(List.of(new IdRange(0, 165536, 65536)), m.ranges());
    assertEquals(OptionalLong.of(165536), m.toHost(0));
    assertEquals(OptionalLong.empty(), m.toHost(65536));
    // Go's field names, numeric strings, longs
    IdMapping go =
        IdMapping.fromDocker(
            List.of(
                Map.of("ContainerID", 0L, "HostID", "100000", "Size", 1000),
                Map.of("ContainerID", 1000, "HostID", 300000, "Size", 5)));
    assertEquals(OptionalLong.of(300004), go.toHost(1004));
    assertTrue(IdMapping.fromDocker(null).isIdentity());
    assertTrue(IdMapping.fromDocker(List.of()).isIdentity());
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> IdMapping.fromDocker(List.of(Map.of("container_id", 0, "size", 1))));
    assertTrue(e.getMessage().contains("host_id"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            IdMapping.fromDocker(List.of(Map.of("container_id", 0, "host_id", "many", "size", 1))));
  }

  @Test
  void readsAProcFile(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("uid_map");
    Files.writeString(f, UNSHARE_MAP);
    assertEquals(IdMapping.parseProcMap(UNSHARE_MAP), IdMapping.fromProcFile(f));
    Files.writeString(f, "garbage\n");
    IOException e = assertThrows(IOException.class, () -> IdMapping.fromProcFile(f));
    assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
  }

  @Test
  void currentMapsOfThisProcessAreReadable() throws IOException {
    IdMappings m = IdMappings.current();
    assertFalse(m.uids().isEmpty());
    assertFalse(m.gids().isEmpty());
  }

  @Test
  void describesTheContainerSide() {
    assertEquals(
        "0-65535 (65,536 ids)", IdMapping.parseProcMap(UNSHARE_MAP).describeContainerIds());
    assertEquals("every id (the initial namespace)", IdMapping.identity().describeContainerIds());
    assertEquals("no ids", IdMapping.empty().describeContainerIds());
    assertEquals(
        "5-6, 10 (3 ids)",
        IdMapping.of(new IdRange(10, 1, 1), new IdRange(5, 7, 2)).describeContainerIds());
  }

  @Test
  void equalityIgnoresOrder() {
    IdMapping a = IdMapping.of(new IdRange(0, 1000, 1), new IdRange(1, 5000, 10));
    IdMapping b = IdMapping.of(new IdRange(1, 5000, 10), new IdRange(0, 1000, 1));
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
  }

  @Test
  void policiesAndModesParse() {
    assertEquals(UnmappedIdPolicy.SQUASH, UnmappedIdPolicy.parse("Squash"));
    assertEquals("skip", UnmappedIdPolicy.SKIP.cliName());
    assertThrows(IllegalArgumentException.class, () -> UnmappedIdPolicy.parse("ignore"));
    assertEquals(RootlessMode.AUTO, RootlessMode.parse("auto"));
    assertEquals(RootlessMode.TRUE, RootlessMode.parse("TRUE"));
    assertEquals(RootlessMode.FALSE, RootlessMode.parse("0"));
    assertThrows(IllegalArgumentException.class, () -> RootlessMode.parse("maybe"));
  }
}
