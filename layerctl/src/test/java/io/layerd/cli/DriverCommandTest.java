package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.engine.DefaultPaths;
import io.layerd.engine.DriverSelector;
import io.layerd.engine.spi.Host;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriverCommandTest {
  @TempDir Path tmp;

  private static JsonNode driver(JsonNode doc, String name) {
    for (JsonNode d : doc.get("drivers")) {
      if (d.get("name").asText().equals(name)) {
        return d;
      }
    }
    throw new AssertionError("no driver " + name + " in " + doc);
  }

  @RootTest
  void probeAsJson() throws IOException {
    Path root = tmp.resolve("new/root");
    Cli.Run r = Cli.run("driver", "probe", "--data-root", root.toString(), "--json").ok();
    JsonNode doc = r.json();
    assertTrue(doc.get("drivers").isArray() && doc.get("drivers").size() >= 1, r.out());
    for (JsonNode d : doc.get("drivers")) {
      assertTrue(d.get("name").isTextual(), d.toString());
      assertTrue(d.get("usable").isBoolean(), d.toString());
      assertTrue(d.get("reasons").isArray() && d.get("reasons").size() > 0, d.toString());
      for (JsonNode reason : d.get("reasons")) {
        assertTrue(reason.isTextual());
      }
    }
    JsonNode vfs = driver(doc, "vfs");
    assertTrue(vfs.get("usable").asBoolean(), "vfs always works");
    assertTrue(vfs.get("reasons").toString().contains("backing filesystem"), vfs.toString());
    String chosen = doc.get("chosen").asText();
    assertTrue(driver(doc, chosen).get("usable").asBoolean(), "the chosen driver is usable");
    assertTrue(doc.get("why").asText().contains("first usable driver by priority"));
    // The data-root was made private, and the verdicts cached for the engine.
    assertEquals(0700, Sys.lstat(root.toString()).permissions());
    assertTrue(Files.isRegularFile(root.resolve(DriverSelector.CACHE_FILE)));
  }

  @Test
  void anExplicitDriverIsChosenAndSaysWhy() throws IOException {
    Path root = tmp.resolve("root");
    JsonNode doc =
        Cli.run("driver", "probe", "--data-root", root.toString(), "--json", "--driver", "vfs")
            .ok()
            .json();
    assertEquals("vfs", doc.get("chosen").asText());
    assertTrue(doc.get("why").asText().contains("--driver"), doc.get("why").asText());
  }

  @Test
  void textNamesEveryDriverAndTheChoice() {
    Cli.Run r = Cli.run("driver", "probe", "--data-root", tmp.resolve("root").toString()).ok();
    assertTrue(r.out().contains("vfs "), r.out());
    assertTrue(r.out().contains("usable"), r.out());
    assertTrue(r.out().contains("chosen: "), r.out());
    assertTrue(r.out().contains("data-root: " + tmp.resolve("root")), r.out());
  }

  @Test
  void anUnknownDriverExitsThreeWithEveryVerdict() throws IOException {
    Cli.Run r =
        Cli.run(
            "driver",
            "probe",
            "--data-root",
            tmp.resolve("root").toString(),
            "--json",
            "--driver",
            "zfs");
    assertEquals(DriverCommand.NO_DRIVER, r.code());
    assertTrue(r.err().contains("unknown storage driver 'zfs'"), r.err());
    JsonNode doc = r.json();
    assertTrue(doc.get("chosen").isNull());
    assertTrue(driver(doc, "vfs").get("usable").asBoolean());
  }

  @Test
  void aFileAsDataRootIsAnError() throws IOException {
    Path file = Files.writeString(tmp.resolve("file"), "x");
    Cli.Run r = Cli.run("driver", "probe", "--data-root", file.toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("not a directory"), r.err());
  }

  @Test
  void defaultDataRoots() throws IOException {
    Host real = Host.current();
    Host root = real.toBuilder().root(true).userNamespace(false).build();
    Host user = real.toBuilder().root(false).userNamespace(false).build();
    Host rootless = real.toBuilder().root(true).userNamespace(true).build();
    Map<String, String> env = Map.of("HOME", "/home/u");
    assertEquals(Path.of("/var/lib/layerd"), DefaultPaths.of(root, env).dataRoot());
    assertEquals(Path.of("/home/u/.local/share/layerd"), DefaultPaths.of(user, env).dataRoot());
    assertEquals(Path.of("/home/u/.local/share/layerd"), DefaultPaths.of(rootless, env).dataRoot());
    assertEquals(
        Path.of("/x/layerd"),
        DefaultPaths.of(user, Map.of("HOME", "/home/u", "XDG_DATA_HOME", "/x")).dataRoot());
    assertFalse(DefaultPaths.of(user, env).dataRoot().startsWith("/var"));
  }
}
