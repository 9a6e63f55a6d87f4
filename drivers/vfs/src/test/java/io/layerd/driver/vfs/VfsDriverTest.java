package io.layerd.driver.vfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.DriverSelector;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.Probe;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VfsDriverTest {
  @TempDir Path tmp;

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void isFoundThroughServiceLoaderLastByPriority() {
    List<DriverProvider> installed = DriverSelector.installed();
    DriverProvider vfs =
        installed.stream().filter(p -> p.name().equals("vfs")).findFirst().orElseThrow();
    assertEquals(100, vfs.priority());
    assertTrue(vfs instanceof VfsDriverProvider);
  }

  @Test
  void theProbeIsAlwaysUsableAndLeavesNothing() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("root"));
    VfsDriverProvider p = new VfsDriverProvider();
    DriverContext ctx = DriverSelector.context(root, p, Host.current(), Map.of());
    Probe probe = p.probe(ctx);
    String all = String.join("\n", probe.reasons());
    assertTrue(all.contains("backing filesystem: "), all);
    assertTrue(all.contains("reflinks"), all);
    assertEquals(List.of(), names(root), "the reflink test files are removed");
    assertFalse(p.hasState(ctx));
  }

  @RootTest
  void layoutStatusAndMetadata() throws IOException {
    Path root = tmp.resolve("root");
    try (Engine e = Engine.open(EngineConfig.of(root, null))) {
      assertEquals("vfs", e.driver().name());
      assertTrue(e.selection().why().contains("first usable driver by priority"));
      e.create("base", null);
      e.applyDiff(
          "base", null, new ByteArrayInputStream(TarBuilder.create().file("f", "x").build()));
      e.create("child", "base");
      Path home = root.resolve("vfs");
      assertEquals(List.of("dir", "staging"), names(home));
      assertEquals(List.of("base", "child"), names(home.resolve("dir")));
      assertEquals("x", Files.readString(home.resolve("dir/child/f")), "a full copy");
      assertEquals(Map.of("Dir", home.resolve("dir/child").toString()), e.metadata("child"));
      assertEquals(home.resolve("dir/base"), e.get("base"));
      e.put("base");
      assertEquals(DeletionForm.ABSENT, e.driver().deletionForm());
      assertEquals(List.of(), e.driver().mounts("base", true));
      assertTrue(e.driver().capabilities().contains(Capability.ROOTLESS));
      assertTrue(e.driver().capabilities().contains(Capability.XATTRS));
      assertFalse(e.driver().capabilities().contains(Capability.NEEDS_MOUNT));
      Map<String, String> status = new LinkedHashMap<>();
      e.driver().status().forEach(x -> status.put(x.getKey(), x.getValue()));
      assertEquals(
          List.of("Backing Filesystem", "Copy Method", "Copy Threads", "Refused Xattrs"),
          List.copyOf(status.keySet()));
      e.remove("child");
      assertEquals(List.of("base"), names(home.resolve("dir")));
      assertEquals(List.of(), names(home.resolve("staging")), "removed through staging");
      assertTrue(
          new VfsDriverProvider()
              .hasState(
                  DriverSelector.context(root, new VfsDriverProvider(), Host.current(), Map.of())));
    }
  }

  @RootTest
  void leftOversInStagingAreRemovedAtOpen() throws IOException {
    Path root = tmp.resolve("root");
    try (Engine e = Engine.open(EngineConfig.of(root, "vfs"))) {
      e.create("base", null);
    }
    Path junk = Files.createDirectories(root.resolve("vfs/staging/half.0123/deep/er"));
    Files.writeString(junk.resolve("f"), "half a copy");
    Files.createSymbolicLink(root.resolve("vfs/staging/half.0123/escape"), Path.of("/etc"));
    try (Engine e = Engine.open(EngineConfig.of(root, "vfs"))) {
      assertEquals(List.of(), names(root.resolve("vfs/staging")));
      assertTrue(e.exists("base"));
      assertTrue(Files.exists(Path.of("/etc/passwd")), "removal follows no symlink");
    }
  }
}
