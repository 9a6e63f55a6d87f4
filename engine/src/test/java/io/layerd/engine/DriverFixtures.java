package io.layerd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Probe;
import io.layerd.testkit.TarBuilder;
import io.layerd.unpack.OwnerMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the driver modules' own tests share, through this module's test-jar: an engine on one
 * driver, the driver's real probe, a provider to fall back on, and a base layer with a child that
 * deletes one of its files and makes one of its directories opaque.
 */
public final class DriverFixtures {
  private DriverFixtures() {}

  /**
   * An engine on {@code dataRoot} with {@code provider}'s driver (the only one), ids as they are.
   */
  public static Engine openEngine(Path dataRoot, DriverProvider provider) throws IOException {
    return Engine.open(
        new EngineConfig(
            dataRoot,
            provider.name(),
            Map.of(),
            Host.current(),
            List.of(provider),
            OwnerMapper.identity()));
  }

  /** The provider's real probe for {@code dataRoot} (its home would be {@code dataRoot/NAME}). */
  public static Probe probe(DriverProvider provider, Path dataRoot)
      throws DriverRefusal, IOException {
    return provider.probe(
        new DriverContext(dataRoot, dataRoot.resolve(provider.name()), Host.current(), Map.of()));
  }

  /**
   * A provider named "fallback" that is always usable, for a selection to choose when a driver is
   * refused.
   */
  public static DriverProvider fallback() {
    return FakeProvider.usable("fallback", 100);
  }

  /**
   * The base layer: files {@code gone} and {@code keep}, directory {@code d} with {@code d/old}.
   */
  public static TarBuilder baseLayer() {
    return TarBuilder.create().file("gone", "G").file("keep", "K").dir("d").file("d/old", "O");
  }

  /**
   * The child of {@link #baseLayer}: deletes {@code gone}, makes {@code d} opaque, adds {@code
   * d/new}.
   */
  public static InputStream childLayer() {
    return new ByteArrayInputStream(
        TarBuilder.create().whiteout("gone").dir("d").opaque("d").file("d/new", "N").build());
  }

  /**
   * Checks the child's whole view: no {@code gone}, {@code keep} kept, {@code d} holding only
   * {@code new}.
   */
  public static void assertChildView(Path view) throws IOException {
    assertFalse(Files.exists(view.resolve("gone"), LinkOption.NOFOLLOW_LINKS));
    assertEquals("K", Files.readString(view.resolve("keep")));
    try (var s = Files.list(view.resolve("d"))) {
      assertEquals(List.of(view.resolve("d/new")), s.toList());
    }
  }
}
