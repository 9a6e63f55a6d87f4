package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.daemon.containerd.ContainerdConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code layerd config containerd|docker}: what they print for the settings given. */
class ConfigCommandTest {
  @TempDir Path tmp;

  /** Runs {@code layerd ARGS}; returns {exit code, stdout, stderr}. */
  static String[] layerd(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cl = Main.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new String[] {String.valueOf(code), out.toString(), err.toString()};
  }

  @Test
  void containerdConfigNamesLayerdsSocketAndDataRoot() throws Exception {
    String[] r =
        layerd(
            "config",
            "containerd",
            "--data-root",
            "/srv/layerd",
            "--containerd-socket",
            "/run/l/snap.sock",
            "--containerd-root",
            "/c/root",
            "--containerd-state",
            "/c/state",
            "--containerd-address",
            "/c/ctd.sock",
            "--disable-plugin",
            ContainerdConfig.CRI_PLUGIN);
    assertEquals("0", r[0], r[2]);
    assertTrue(r[1].startsWith("# containerd 2.x config"), r[1]);
    JsonNode t = ContainerdConfig.parse(r[1]);
    assertEquals("/srv/layerd", t.at("/proxy_plugins/layerd/exports/root").asText());
    assertEquals("/run/l/snap.sock", t.at("/proxy_plugins/layerd/address").asText());
    assertEquals("/c/root", t.get("root").asText());
    assertEquals("/c/state", t.get("state").asText());
    assertEquals("/c/ctd.sock", t.at("/grpc/address").asText());
    assertEquals(ContainerdConfig.CRI_PLUGIN, t.get("disabled_plugins").get(0).asText());
    assertTrue(r[1].contains("--containerd-socket"), "says how to serve it: " + r[1]);
    assertEquals("/run/l/snap.sock", t.at("/proxy_plugins/layerd-diff/address").asText());
    assertEquals("diff", t.at("/proxy_plugins/layerd-diff/type").asText());
    assertTrue(
        r[1].contains("--containerd-root /c/root --containerd-address /c/ctd.sock"),
        "layerd's differ is told containerd's places: " + r[1]);
    // A user's stream processor (as ContainerdSnapshotterTest's) is a table after its lines.
    assertTrue(r[1].contains("[stream_processors.'ID'] tables after these lines"), r[1]);
    JsonNode withProcessor =
        ContainerdConfig.parse(
            r[1]
                + "\n[stream_processors.'io.containerd.ocicrypt.decoder.v1.tar.gzip']\n"
                + "  accepts = ['application/vnd.oci.image.layer.v1.tar+gzip+encrypted']\n"
                + "  returns = 'application/vnd.oci.image.layer.v1.tar+gzip'\n"
                + "  path = '/usr/local/bin/decrypt'\n");
    assertEquals(
        "/usr/local/bin/decrypt",
        withProcessor
            .at("/stream_processors/io.containerd.ocicrypt.decoder.v1.tar.gzip/path")
            .asText());
    assertEquals(t.get("proxy_plugins"), withProcessor.get("proxy_plugins"));
    String[] snapshotterOnly =
        layerd("config", "containerd", "--containerd-socket", "/s.sock", "--no-differ");
    JsonNode s = ContainerdConfig.parse(snapshotterOnly[1]);
    assertTrue(s.at("/proxy_plugins/layerd-diff").isMissingNode(), snapshotterOnly[1]);
    assertFalse(s.get("plugins").has(ContainerdConfig.DIFF_SERVICE), snapshotterOnly[1]);
  }

  @Test
  void containerdConfigTakesLayerdsConfigFile() throws Exception {
    Path cfg = tmp.resolve("config.json");
    Files.writeString(
        cfg, "{\"data-root\": \"/from/file\", \"containerd-socket\": \"/run/file.sock\"}");
    String[] r = layerd("config", "containerd", "--config", cfg.toString());
    assertEquals("0", r[0], r[2]);
    JsonNode t = ContainerdConfig.parse(r[1]);
    assertEquals("/from/file", t.at("/proxy_plugins/layerd/exports/root").asText());
    assertEquals("/run/file.sock", t.at("/proxy_plugins/layerd/address").asText());
  }

  @Test
  void dockerConfigIsDaemonJsonForTheContainerdImageStore() throws Exception {
    String[] r = layerd("config", "docker", "--containerd-address", "/c/ctd.sock");
    assertEquals("0", r[0], r[2]);
    JsonNode j = new ObjectMapper().readTree(r[1]);
    assertTrue(j.at("/features/containerd-snapshotter").asBoolean());
    assertEquals("layerd", j.get("storage-driver").asText());
    assertEquals("/c/ctd.sock", j.get("containerd").asText());
    assertTrue(r[2].contains("--containerd /c/ctd.sock"), r[2]);
  }

  @Test
  void configAloneAsksWhichConfig() {
    String[] r = layerd("config");
    assertNotEquals("0", r[0]);
    assertTrue(r[2].contains("layerd config containerd"), r[2]);
  }
}
