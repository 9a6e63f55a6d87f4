package io.layerd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.KernelVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriverSelectorTest {
  @TempDir Path root;
  Host host;

  @BeforeEach
  void setUp() throws IOException {
    host = Host.current();
  }

  private DriverSelector.Selection select(String explicit, DriverProvider... providers)
      throws IOException {
    return DriverSelector.select(root, host, explicit, Map.of(), List.of(providers));
  }

  private DriverSelector.Selection cached(Host h, DriverProvider... providers) throws IOException {
    return DriverSelector.select(
        root, h, null, Map.of(), List.of(providers), DriverSelector.Probing.CACHED);
  }

  /** Gives a driver state: its home holds something. */
  private void state(String driver) throws IOException {
    Files.createDirectories(root.resolve(driver).resolve("layer"));
  }

  @Test
  void anExplicitChoiceWins() throws IOException {
    DriverSelector.Selection s =
        select("b", FakeProvider.usable("a", 10), FakeProvider.usable("b", 20));
    assertEquals("b", s.chosen());
    assertTrue(s.why().contains("explicitly"), s.why());
    assertEquals(2, s.drivers().size(), "every driver is still probed, to explain");
  }

  @Test
  void anExplicitChoiceOverridesExistingState() throws IOException {
    state("a");
    assertEquals(
        "b", select("b", FakeProvider.usable("a", 10), FakeProvider.usable("b", 20)).chosen());
  }

  @Test
  void anUnusableExplicitChoiceIsAnErrorWithItsReason() {
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                select(
                    "b",
                    FakeProvider.usable("a", 10),
                    FakeProvider.refusing("b", 20, DriverRefusal.Kind.PREREQUISITES_MISSING)));
    assertTrue(e.getMessage().contains("prerequisites missing"), e.getMessage());
    assertTrue(e.getMessage().contains("b cannot, for a test"), e.getMessage());
  }

  @Test
  void anUnknownExplicitChoiceListsTheDrivers() {
    IOException e =
        assertThrows(
            IOException.class,
            () -> select("zfs", FakeProvider.usable("a", 10), FakeProvider.usable("b", 20)));
    assertTrue(e.getMessage().contains("'zfs'") && e.getMessage().contains("a, b"), e.getMessage());
  }

  @Test
  void explicitChoiceOrder() {
    Map<String, String> env = Map.of("LAYERD_DRIVER", "vfs");
    assertEquals(
        new DriverSelector.Explicit("overlay2", "--driver"),
        DriverSelector.explicitChoice("overlay2", "btrfs", env));
    assertEquals(
        new DriverSelector.Explicit("btrfs", "the config file"),
        DriverSelector.explicitChoice(null, "btrfs", env));
    assertEquals(
        new DriverSelector.Explicit("vfs", "LAYERD_DRIVER"),
        DriverSelector.explicitChoice("", " ", env));
    assertNull(DriverSelector.explicitChoice(null, null, Map.of("LAYERD_DRIVER", "")));
  }

  @Test
  void existingStateWinsOverPriority() throws IOException {
    state("b");
    DriverSelector.Selection s =
        select(null, FakeProvider.usable("a", 10), FakeProvider.usable("b", 20));
    assertEquals("b", s.chosen());
    assertTrue(s.why().contains("already holds b layers"), s.why());
    assertTrue(s.verdict("b").hasState());
    assertFalse(s.verdict("a").hasState());
  }

  @Test
  void anEmptyHomeIsNoState() throws IOException {
    Files.createDirectories(root.resolve("b"));
    assertEquals(
        "a", select(null, FakeProvider.usable("a", 10), FakeProvider.usable("b", 20)).chosen());
  }

  @Test
  void stateOfSeveralDriversIsAnError() throws IOException {
    state("a");
    state("b");
    IOException e =
        assertThrows(
            IOException.class,
            () -> select(null, FakeProvider.usable("a", 10), FakeProvider.usable("b", 20)));
    assertTrue(e.getMessage().contains("several drivers (a, b)"), e.getMessage());
    assertTrue(e.getMessage().contains("--driver"), e.getMessage());
  }

  @Test
  void stateOfAnUnusableDriverIsAnError() throws IOException {
    state("b");
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                select(
                    null,
                    FakeProvider.usable("a", 10),
                    FakeProvider.refusing("b", 20, DriverRefusal.Kind.NOT_SUPPORTED)));
    assertTrue(e.getMessage().contains("holds b layers"), e.getMessage());
  }

  @Test
  void priorityOrderPassesOverRefusals() throws IOException {
    DriverSelector.Selection s =
        select(
            null,
            FakeProvider.usable("vfs", 100),
            FakeProvider.refusing("overlay2", 10, DriverRefusal.Kind.NOT_SUPPORTED),
            FakeProvider.usable("btrfs", 30),
            FakeProvider.refusing(
                "fuse-overlayfs", 20, DriverRefusal.Kind.INCOMPATIBLE_FILESYSTEM));
    assertEquals("btrfs", s.chosen());
    assertTrue(s.why().contains("first usable driver by priority"), s.why());
    assertEquals(
        List.of("overlay2", "fuse-overlayfs", "btrfs", "vfs"),
        s.drivers().stream().map(DriverSelector.Verdict::name).toList(),
        "verdicts in priority order, whatever order the providers came in");
    DriverSelector.Verdict o = s.verdict("overlay2");
    assertFalse(o.usable());
    assertEquals("not supported", o.refusal());
    assertEquals(List.of("overlay2 cannot, for a test"), o.reasons());
    assertEquals("incompatible filesystem", s.verdict("fuse-overlayfs").refusal());
  }

  @Test
  void aFailureThatIsNoRefusalStopsTheSelection() {
    FakeProvider after = FakeProvider.usable("vfs", 100);
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                select(
                    null,
                    FakeProvider.broken("overlay2", 10, new IOException("mount table unreadable")),
                    after));
    assertEquals("mount table unreadable", e.getMessage());
    assertEquals(0, after.probes.get(), "no driver after it is probed");
    IllegalStateException bug =
        assertThrows(
            IllegalStateException.class,
            () ->
                select(
                    null,
                    FakeProvider.broken("overlay2", 10, new IllegalStateException("bug")),
                    FakeProvider.usable("vfs", 100)));
    assertEquals("bug", bug.getMessage());
  }

  @Test
  void noUsableDriverListsEveryReason() {
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                select(
                    null,
                    FakeProvider.refusing("a", 10, DriverRefusal.Kind.NOT_SUPPORTED),
                    FakeProvider.refusing("b", 20, DriverRefusal.Kind.PREREQUISITES_MISSING)));
    assertTrue(e.getMessage().contains("a: not supported: a cannot"), e.getMessage());
    assertTrue(e.getMessage().contains("b: prerequisites missing: b cannot"), e.getMessage());
  }

  @Test
  void jsonShape() throws IOException {
    DriverSelector.Selection s =
        select(
            null,
            FakeProvider.refusing("a", 10, DriverRefusal.Kind.NOT_SUPPORTED),
            FakeProvider.usable("b", 20));
    JsonNode j = new ObjectMapper().readTree(DriverSelector.toJson(s));
    assertEquals("b", j.get("chosen").asText());
    assertTrue(j.get("why").isTextual());
    assertEquals(2, j.get("drivers").size());
    JsonNode a = j.get("drivers").get(0);
    assertEquals("a", a.get("name").asText());
    assertFalse(a.get("usable").asBoolean());
    assertTrue(a.get("reasons").isArray());
    assertEquals("a cannot, for a test", a.get("reasons").get(0).asText());
    assertTrue(j.get("drivers").get(1).get("usable").asBoolean());
  }

  // ------------------------------------------------------------------ the probe cache

  @Test
  void cachedVerdictsAreUsedForTheSameKernelUserAndDrivers() throws IOException {
    FakeProvider a = FakeProvider.refusing("a", 10, DriverRefusal.Kind.NOT_SUPPORTED);
    FakeProvider b = FakeProvider.usable("b", 20);
    DriverSelector.Selection first = cached(host, a, b);
    assertFalse(first.cached());
    assertTrue(Files.isRegularFile(root.resolve(DriverSelector.CACHE_FILE)));
    DriverSelector.Selection second = cached(host, a, b);
    assertTrue(second.cached());
    assertEquals(List.of(1, 1), List.of(a.probes.get(), b.probes.get()), "probed once each");
    assertEquals(first.drivers(), second.drivers());
    assertEquals("b", second.chosen());

    // Whether a driver has state is never cached.
    state("a");
    IOException e = assertThrows(IOException.class, () -> cached(host, a, b));
    assertTrue(e.getMessage().contains("holds a layers"), e.getMessage());
    assertEquals(1, a.probes.get());
  }

  @Test
  void anotherKernelProbesAgain() throws IOException {
    FakeProvider a = FakeProvider.usable("a", 10);
    cached(host, a);
    Host newer = host.toBuilder().kernel(KernelVersion.parse("99.1.0-test")).build();
    DriverSelector.Selection s = cached(newer, a);
    assertFalse(s.cached());
    assertEquals(2, a.probes.get());
    assertTrue(s.verdict("a").reasons().contains("kernel 99.1.0-test"));
    assertTrue(cached(newer, a).cached());
    assertFalse(cached(host, a).cached(), "one cache entry: the last kernel's");
  }

  @Test
  void anotherSetOfDriversProbesAgain() throws IOException {
    FakeProvider a = FakeProvider.usable("a", 10);
    cached(host, a);
    FakeProvider b = FakeProvider.usable("b", 20);
    assertFalse(cached(host, a, b).cached());
    assertEquals(2, a.probes.get());
    assertFalse(cached(host, a, FakeProvider.usable("b", 5)).cached(), "priorities count");
  }

  @Test
  void anotherMountOrMountOptionProbesAgain() throws IOException {
    FakeProvider a = FakeProvider.usable("a", 10);
    FsInfo real = host.filesystems().probe(root);
    Host plain = host.toBuilder().filesystems(p -> real).build();
    cached(plain, a);
    assertTrue(cached(plain, a).cached());
    List<String> withOption = new java.util.ArrayList<>(real.superOptions());
    withOption.add("user_subvol_rm_allowed");
    Host remounted =
        host.toBuilder()
            .filesystems(
                p ->
                    new FsInfo(
                        real.magic(), real.type(), real.mountPoint(), real.source(), withOption))
            .build();
    assertFalse(cached(remounted, a).cached(), "a remount with other options");
    Host elsewhere =
        host.toBuilder()
            .filesystems(
                p ->
                    new FsInfo(
                        real.magic(), real.type(), real.mountPoint(), "/dev/other", withOption))
            .build();
    assertFalse(cached(elsewhere, a).cached(), "another filesystem mounted there");
    assertEquals(3, a.probes.get());
  }

  @Test
  void aChangeADriverDependsOnProbesAgain() throws IOException {
    FakeProvider a = FakeProvider.usable("a", 10);
    a.inputs = List.of("/usr/bin/helper:1000:1");
    cached(host, a);
    assertTrue(cached(host, a).cached());
    a.inputs = List.of("/usr/bin/helper:2000:2"); // upgraded
    assertFalse(cached(host, a).cached());
    a.inputs = List.of("no-binary"); // removed
    assertFalse(cached(host, a).cached());
    assertEquals(3, a.probes.get());
  }

  @Test
  void freshProbingRewritesTheCacheAndABrokenCacheIsIgnored() throws IOException {
    FakeProvider a = FakeProvider.usable("a", 10);
    cached(host, a);
    DriverSelector.Selection fresh =
        DriverSelector.select(root, host, null, Map.of(), List.of(a), DriverSelector.Probing.FRESH);
    assertFalse(fresh.cached());
    assertEquals(2, a.probes.get());
    Files.writeString(root.resolve(DriverSelector.CACHE_FILE), "{not json");
    assertFalse(cached(host, a).cached());
    assertEquals(3, a.probes.get());
    assertTrue(cached(host, a).cached(), "rewritten");
  }

  @Test
  void engineOpenUsesTheCache() throws IOException {
    FakeProvider a = FakeProvider.refusing("a", 10, DriverRefusal.Kind.NOT_SUPPORTED);
    DirDriver.Provider dir = new DirDriver.Provider();
    EngineConfig config =
        new EngineConfig(
            root, null, Map.of(), host, List.of(a, dir), io.layerd.unpack.OwnerMapper.identity());
    try (Engine e = Engine.open(config)) {
      assertEquals(DirDriver.NAME, e.driver().name());
      assertFalse(e.selection().cached());
    }
    try (Engine e = Engine.open(config)) {
      assertTrue(e.selection().cached());
      assertEquals(DirDriver.NAME, e.selection().chosen());
    }
    assertEquals(1, a.probes.get());
    assertEquals(1, dir.probes.get());
  }
}
