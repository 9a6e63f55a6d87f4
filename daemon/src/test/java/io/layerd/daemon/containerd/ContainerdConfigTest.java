package io.layerd.daemon.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The containerd config, read back from its TOML text. */
class ContainerdConfigTest {
  private static ObjectNode readBack(ContainerdConfig c) throws Exception {
    ObjectNode parsed = ContainerdConfig.parse(c.toToml());
    assertEquals(c.tree(), parsed, "the TOML text reads back as the tree:\n" + c.toToml());
    return parsed;
  }

  @Test
  void layerdIsAProxySnapshotterThatTheTransferServiceUnpacksFor() throws Exception {
    ObjectNode t =
        readBack(
            ContainerdConfig.builder()
                .root(Path.of("/c/root"))
                .state(Path.of("/c/state"))
                .address(Path.of("/c/state/containerd.sock"))
                .platform("linux/amd64")
                .layerd(Path.of("/run/layerd/snapshotter.sock"), Path.of("/var/lib/layerd"))
                .build());
    assertEquals(3, t.get("version").asInt());
    assertEquals("/c/root", t.get("root").asText());
    assertEquals("/c/state", t.get("state").asText());
    assertEquals("/c/state/containerd.sock", t.at("/grpc/address").asText());
    JsonNode p = t.at("/proxy_plugins/layerd");
    assertEquals("snapshot", p.get("type").asText());
    assertEquals("/run/layerd/snapshotter.sock", p.get("address").asText());
    assertEquals("/var/lib/layerd", p.at("/exports/root").asText());
    assertEquals(List.of("remap-ids"), strings(p.get("capabilities")), "layerd maps ids itself");
    JsonNode unpack = t.get("plugins").get(ContainerdConfig.TRANSFER_PLUGIN).get("unpack_config");
    assertEquals(2, unpack.size(), unpack.toString());
    assertEquals("overlayfs", unpack.get(0).get("snapshotter").asText(), "containerd's default");
    assertEquals("layerd", unpack.get(1).get("snapshotter").asText());
    for (JsonNode u : unpack) {
      assertEquals("linux/amd64", u.get("platform").asText(), "the host's platform only");
    }
    assertFalse(t.has("disabled_plugins"));
  }

  @Test
  void unpackEntriesAreForTheHostsPlatformByDefault() throws Exception {
    ObjectNode t =
        readBack(ContainerdConfig.builder().layerd(Path.of("/s.sock"), Path.of("/d")).build());
    for (JsonNode u : t.get("plugins").get(ContainerdConfig.TRANSFER_PLUGIN).get("unpack_config")) {
      assertEquals(ContainerdConfig.hostPlatform(), u.get("platform").asText());
    }
    assertEquals("linux/amd64", ContainerdConfig.platformOf("amd64"));
    assertEquals("linux/arm64/v8", ContainerdConfig.platformOf("aarch64"));
    assertEquals("/var/lib/containerd", t.get("root").asText(), "containerd's default root");
    assertEquals("/run/containerd/containerd.sock", t.at("/grpc/address").asText());
  }

  @Test
  void aProxyDifferAndPluginSettingsExtendIt() throws Exception {
    ObjectNode t =
        readBack(
            ContainerdConfig.builder()
                .disable(ContainerdConfig.CRI_PLUGIN)
                .layerd(Path.of("/s.sock"), Path.of("/d"))
                .proxyPlugin(
                    new ContainerdConfig.ProxyPlugin(
                        "layerd-diff", "diff", Path.of("/d.sock"), List.of(), Map.of()))
                .plugin(
                    "io.containerd.service.v1.diff-service",
                    "default",
                    List.of("layerd-diff", "walking"))
                .build());
    assertEquals(List.of(ContainerdConfig.CRI_PLUGIN), strings(t.get("disabled_plugins")));
    assertEquals("diff", t.at("/proxy_plugins/layerd-diff/type").asText());
    assertFalse(t.at("/proxy_plugins/layerd-diff").has("exports"));
    assertEquals(
        List.of("layerd-diff", "walking"),
        strings(t.get("plugins").get("io.containerd.service.v1.diff-service").get("default")));
    assertTrue(t.toString().contains("\"layerd\""));
  }

  @Test
  void layerdsDifferComesFirstInTheChainAndUnpacksForLayerd() throws Exception {
    ObjectNode t =
        readBack(
            ContainerdConfig.builder()
                .layerd(Path.of("/run/layerd/snapshotter.sock"), Path.of("/var/lib/layerd"))
                .layerdDiffer(Path.of("/run/layerd/snapshotter.sock"))
                .build());
    JsonNode d = t.at("/proxy_plugins/layerd-diff");
    assertEquals("diff", d.get("type").asText());
    assertEquals("/run/layerd/snapshotter.sock", d.get("address").asText(), "the same socket");
    assertEquals(
        List.of("layerd-diff", "walking"),
        strings(t.get("plugins").get(ContainerdConfig.DIFF_SERVICE).get("default")));
    JsonNode unpack = t.get("plugins").get(ContainerdConfig.TRANSFER_PLUGIN).get("unpack_config");
    assertEquals(2, unpack.size(), unpack.toString());
    assertFalse(unpack.get(0).has("differ"), "overlayfs keeps containerd's differ");
    assertEquals("layerd", unpack.get(1).get("snapshotter").asText());
    assertEquals("layerd-diff", unpack.get(1).get("differ").asText());
  }

  @Test
  void mistakesAreRefusedWithTheirName() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ContainerdConfig.builder().layerd(Path.of("rel.sock"), Path.of("/d")));
    assertEquals("layerd's socket must be an absolute path, not rel.sock", e.getMessage());
    ContainerdConfig.Builder b = ContainerdConfig.builder().layerd(Path.of("/s"), Path.of("/d"));
    assertThrows(IllegalArgumentException.class, () -> b.layerd(Path.of("/s"), Path.of("/d")));
    assertThrows(IllegalArgumentException.class, () -> b.plugin("x", "k", new Object()).build());
  }

  @Test
  void dockersDaemonJsonUsesTheContainerdImageStoreAndLayerd() throws Exception {
    ObjectNode j = DockerDaemonConfig.of(Path.of("/run/containerd/containerd.sock"));
    JsonNode back =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(DockerDaemonConfig.toJson(j));
    assertEquals(j, back);
    assertTrue(back.at("/features/containerd-snapshotter").asBoolean());
    assertEquals("layerd", back.get("storage-driver").asText());
    assertEquals("/run/containerd/containerd.sock", back.get("containerd").asText());
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null) {
      array.forEach(n -> out.add(n.asText()));
    }
    return out;
  }
}
