package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.layerd.unpack.BreakoutCases.Case;
import io.layerd.unpack.BreakoutCases.Host;
import io.layerd.unpack.BreakoutCases.Outcome;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every breakout case of {@link BreakoutCases}, applied beside a real victim: the case must end as
 * the table says (confined, or refused as an invalid archive), its validator must accept the root,
 * and the host must be exactly as it was: every file beside the root with the same content, mode,
 * inode, link count and ctime, nothing created or removed outside the root, and no victim's secret
 * readable inside the root.
 */
class BreakoutTest {
  @TempDir Path tmp;

  static Stream<Case> cases() {
    return BreakoutCases.all().stream();
  }

  @Test
  void theTableHoldsEveryPeerCase() {
    assertEquals(34, BreakoutCases.containerd().size(), "containerd's TestBreakouts has 34 cases");
    Set<String> names = new HashSet<>();
    for (Case c : BreakoutCases.all()) {
      assertTrue(names.add(c.origin() + " " + c.name()), "two cases named " + c.name());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void breakout(Case c) throws IOException {
    Host h = new Host(tmp.resolve("host/sandbox"));
    BreakoutCases.prepareHost(h);
    HostSnapshot before = HostSnapshot.of(tmp, h.root());
    LayerApplier applier = LayerApplier.builder().build();
    if (c.lower() != null) {
      apply(applier, c.name() + "-lower", c.lower().apply(h).build(), h.root());
    }
    HostSnapshot afterLower = HostSnapshot.of(tmp, h.root());
    assertEquals(List.of(), before.changes(), "the lower layer alone changed the host");

    byte[] layer = c.layer().apply(h).build();
    if (c.outcome() == Outcome.CONFINED) {
      apply(applier, c.name(), layer, h.root());
    } else {
      LayerApplyException e =
          assertThrows(
              LayerApplyException.class,
              () -> apply(applier, c.name(), layer, h.root()),
              "layerd applied a layer it must refuse");
      assertEquals(c.name(), e.layer());
      assertTrue(
          e.getCause() instanceof InvalidArchiveException,
          "not refused as an invalid archive: " + e);
    }

    List<String> changes = afterLower.changes();
    if (!changes.isEmpty()) {
      fail("ESCAPED: the host changed:\n  " + String.join("\n  ", changes));
    }
    assertNoSecretInside(h.root());
    c.validator().apply(h).check(h.root());
  }

  static ApplyResult apply(LayerApplier a, String name, byte[] layer, Path root)
      throws IOException {
    return a.apply(name, new ByteArrayInputStream(layer), root, LayerApplier.Expect.NOTHING);
  }

  /** No regular file in the root (symlinks not followed) holds a host secret. */
  static void assertNoSecretInside(Path root) throws IOException {
    List<String> leaks = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
            && Files.size(p) < 4096
            && new String(Files.readAllBytes(p), StandardCharsets.UTF_8)
                .startsWith(BreakoutCases.SECRET_PREFIX)) {
          leaks.add(root.relativize(p).toString());
        }
      }
    }
    if (!leaks.isEmpty()) {
      fail("ESCAPED: a host secret is readable in the root at " + leaks);
    }
  }
}
