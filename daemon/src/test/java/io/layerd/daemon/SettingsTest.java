package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.engine.DefaultPaths;
import io.layerd.idmap.UnmappedIdPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTest {
  @TempDir Path tmp;

  private static final Settings.Flags NONE =
      new Settings.Flags(null, null, null, null, null, null, null, null, null, null, null);

  private DefaultPaths user(Map<String, String> env) {
    return new DefaultPaths(false, false, env, tmp.resolve("home").toString());
  }

  @Test
  void rootDefaultsAreDockersPlaces() throws IOException {
    DefaultPaths root = new DefaultPaths(true, false, Map.of(), "/root");
    Path empty = tmp.resolve("empty.json");
    Files.writeString(empty, "{}");
    Settings s = Settings.resolve(NONE, empty, root);
    assertEquals(Path.of("/var/lib/layerd"), s.dataRoot());
    assertEquals(Path.of("/run/docker/plugins/layerd.sock"), s.socket());
    assertNull(s.driver());
    assertEquals(UnmappedIdPolicy.FAIL, s.unmappedIds());
    assertEquals(Path.of("/etc/layerd/config.json"), root.config());
    assertEquals(Path.of("/var/lib/containerd"), s.containerdRoot());
    assertEquals(Path.of("/run/containerd/containerd.sock"), s.containerdAddress());
  }

  @Test
  void userDefaultsAreRootlessDockersPlaces() throws IOException {
    Path home = tmp.resolve("home");
    Settings s = Settings.resolve(NONE, null, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000")));
    assertEquals(home.resolve(".local/share/layerd"), s.dataRoot());
    assertEquals(Path.of("/run/user/1000/layerd/layerd.sock"), s.socket());
    assertEquals(home.resolve(".config/layerd/config.json"), user(Map.of()).config());
    assertEquals(home.resolve(".local/share/containerd"), s.containerdRoot());
    Settings xdg =
        Settings.resolve(
            NONE,
            null,
            user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000", "XDG_DATA_HOME", "/data")));
    assertEquals(Path.of("/data/layerd"), xdg.dataRoot());
  }

  @Test
  void underRootlesskitTheSocketIsWhereTheRootlessDockerdLooks() throws IOException {
    DefaultPaths rk = new DefaultPaths(false, true, Map.of(), tmp.resolve("home").toString());
    Settings s = Settings.resolve(NONE, null, rk);
    assertEquals(Path.of("/run/docker/plugins/layerd.sock"), s.socket());
    assertEquals(tmp.resolve("home/.local/share/layerd"), s.dataRoot());
  }

  @Test
  void aUserWithoutRuntimeDirMustNameTheSocket() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Settings.resolve(NONE, null, user(Map.of())));
    assertTrue(e.getMessage().contains("XDG_RUNTIME_DIR is not set"), e.getMessage());
  }

  @Test
  void driverFromFlagThenConfigThenLayerdDriver() throws IOException {
    DefaultPaths root = new DefaultPaths(true, false, Map.of("LAYERD_DRIVER", "btrfs"), "/root");
    Path empty = tmp.resolve("none.json");
    Files.writeString(empty, "{}");
    assertEquals("btrfs", Settings.resolve(NONE, empty, root).driver(), "LAYERD_DRIVER");
    Path cfg = tmp.resolve("driver.json");
    Files.writeString(cfg, "{\"driver\":\"vfs\"}");
    assertEquals("vfs", Settings.resolve(NONE, cfg, root).driver(), "the config file wins");
  }

  @Test
  void flagsOverTheConfigFileOverDefaults() throws IOException {
    Path cfg = tmp.resolve("config.json");
    Files.writeString(
        cfg,
        "{\"data-root\":\"/srv/layerd\",\"driver\":\"vfs\",\"socket\":\"/tmp/x.sock\","
            + "\"storage-opts\":{\"a\":\"1\",\"b\":\"2\"},\"unmapped-ids\":\"squash\","
            + "\"log-level\":\"debug\",\"shutdown-timeout-seconds\":5}");
    Settings fromFile = Settings.resolve(NONE, cfg, user(Map.of()));
    assertEquals(Path.of("/srv/layerd"), fromFile.dataRoot());
    assertEquals("vfs", fromFile.driver());
    assertEquals(Map.of("a", "1", "b", "2"), fromFile.options());
    assertEquals(UnmappedIdPolicy.SQUASH, fromFile.unmappedIds());
    assertEquals(Duration.ofSeconds(5), fromFile.shutdownTimeout());
    // the key under the flag's name, "on-unmapped-id", wins over its earlier name
    Path both = tmp.resolve("both.json");
    Files.writeString(
        both,
        "{\"socket\":\"/tmp/x.sock\",\"on-unmapped-id\":\"skip\",\"unmapped-ids\":\"squash\"}");
    assertEquals(UnmappedIdPolicy.SKIP, Settings.resolve(NONE, both, user(Map.of())).unmappedIds());
    Settings.Flags flags =
        new Settings.Flags(
            Path.of("/flag"),
            null,
            "overlay2",
            Map.of("b", "3"),
            null,
            null,
            null,
            null,
            null,
            null,
            null);
    Settings s = Settings.resolve(flags, cfg, user(Map.of()));
    assertEquals(Path.of("/flag"), s.dataRoot());
    assertEquals("overlay2", s.driver());
    assertEquals(Map.of("a", "1", "b", "3"), s.options());
    assertEquals(Path.of("/tmp/x.sock"), s.socket());
  }

  @Test
  void containerdsRootAndSocketForTheDifferFromTheConfigFileOrFlags() throws IOException {
    Path cfg = tmp.resolve("config.json");
    Files.writeString(
        cfg,
        "{\"containerd-socket\":\"/run/layerd/snapshotter.sock\","
            + "\"containerd-root\":\"/srv/containerd\","
            + "\"containerd-address\":\"/run/ctd/ctd.sock\"}");
    Settings fromFile =
        Settings.resolve(NONE, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000")));
    assertEquals(Path.of("/run/layerd/snapshotter.sock"), fromFile.containerdSocket());
    assertEquals(Path.of("/srv/containerd"), fromFile.containerdRoot());
    assertEquals(Path.of("/run/ctd/ctd.sock"), fromFile.containerdAddress());
    Settings.Flags flags =
        new Settings.Flags(
            null, null, null, null, null, null, null, null, Path.of("/flag/root"), null, null);
    assertEquals(
        Path.of("/flag/root"),
        Settings.resolve(flags, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000")))
            .containerdRoot());
    Files.writeString(cfg, "{\"containerd-root\":\"var/lib/containerd\"}");
    IOException relative =
        assertThrows(
            IOException.class,
            () -> Settings.resolve(NONE, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"))));
    assertTrue(relative.getMessage().contains("containerd-root"), relative.getMessage());
  }

  @Test
  void diffCompressionFromTheFlagOverTheConfigFileElseFast() throws IOException {
    Map<String, String> env = Map.of("XDG_RUNTIME_DIR", "/run/user/1000");
    Path cfg = tmp.resolve("config.json");
    Files.writeString(cfg, "{}");
    assertEquals(DiffCompression.FAST, Settings.resolve(NONE, cfg, user(env)).diffCompression());
    Files.writeString(cfg, "{\"diff-compression\":\"small\"}");
    assertEquals(DiffCompression.SMALL, Settings.resolve(NONE, cfg, user(env)).diffCompression());
    Settings.Flags fast =
        new Settings.Flags(
            null, null, null, null, null, null, null, null, null, null, DiffCompression.FAST);
    assertEquals(DiffCompression.FAST, Settings.resolve(fast, cfg, user(env)).diffCompression());
    Files.writeString(cfg, "{\"diff-compression\":\"gzip-9\"}");
    IOException bad = assertThrows(IOException.class, () -> Settings.resolve(NONE, cfg, user(env)));
    assertTrue(
        bad.getMessage()
            .startsWith(cfg + ": \"diff-compression\": \"gzip-9\" is not fast or small"),
        bad.getMessage());
  }

  @Test
  void theConfigFileIsChecked() throws IOException {
    Path cfg = tmp.resolve("config.json");
    Files.writeString(cfg, "{\"data_root\":\"/x\"}");
    IOException typo =
        assertThrows(
            IOException.class,
            () -> Settings.resolve(NONE, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"))));
    assertTrue(typo.getMessage().contains("unknown key \"data_root\""), typo.getMessage());
    Files.writeString(cfg, "{\"data-root\":\"relative\"}");
    assertThrows(
        IOException.class,
        () -> Settings.resolve(NONE, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"))));
    Files.writeString(cfg, "{not json");
    assertThrows(
        IOException.class,
        () -> Settings.resolve(NONE, cfg, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"))));
    Path missing = tmp.resolve("missing.json");
    assertThrows(
        IOException.class,
        () -> Settings.resolve(NONE, missing, user(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"))));
  }
}
