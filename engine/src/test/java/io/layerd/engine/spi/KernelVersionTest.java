package io.layerd.engine.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class KernelVersionTest {
  private static void assertVersion(String release, int major, int minor, int patch) {
    KernelVersion v = KernelVersion.parse(release);
    assertEquals(List.of(major, minor, patch), List.of(v.major(), v.minor(), v.patch()), release);
    assertEquals(release.trim(), v.release());
  }

  @Test
  void parsesDistributionSuffixes() {
    assertVersion("5.15.0-91-generic", 5, 15, 0); // Ubuntu
    assertVersion("4.18.0-513.el8.x86_64", 4, 18, 0); // RHEL 8
    assertVersion("6.1.0-18-amd64", 6, 1, 0); // Debian 12
    assertVersion("6.18.44-fc-v769", 6, 18, 44);
    assertVersion("5.10.102.1-microsoft-standard-WSL2", 5, 10, 102);
    assertVersion("3.10.0+", 3, 10, 0);
    assertVersion("6.8", 6, 8, 0);
    assertVersion("  6.8.12\n", 6, 8, 12);
  }

  @Test
  void refusesWhatIsNoRelease() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> KernelVersion.parse("generic-5.4"));
    assertTrue(e.getMessage().contains("generic-5.4"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> KernelVersion.parse("5"));
    assertThrows(IllegalArgumentException.class, () -> KernelVersion.parse(""));
  }

  @Test
  void comparesNumericallyNotAsText() {
    KernelVersion a = KernelVersion.parse("5.4.250-1-lts");
    KernelVersion b = KernelVersion.parse("5.15.0-91-generic");
    KernelVersion c = KernelVersion.parse("4.18.0-513.el8.x86_64");
    KernelVersion d = KernelVersion.parse("5.15.2");
    assertTrue(a.compareTo(b) < 0, "5.4 is older than 5.15");
    assertTrue(c.compareTo(a) < 0);
    assertTrue(b.compareTo(d) < 0, "patch levels count");
    assertEquals(0, b.compareTo(KernelVersion.parse("5.15.0-1-other")), "suffixes do not");
    List<KernelVersion> sorted = new ArrayList<>(List.of(d, a, b, c));
    sorted.sort(null);
    assertEquals(List.of(c, a, b, d), sorted);
  }

  @Test
  void atLeast() {
    KernelVersion v = KernelVersion.parse("5.11.0-1-generic");
    assertTrue(v.atLeast(5, 11));
    assertTrue(v.atLeast(4, 19));
    assertTrue(v.atLeast(5, 0));
    assertFalse(v.atLeast(5, 12));
    assertFalse(v.atLeast(6, 0));
  }
}
