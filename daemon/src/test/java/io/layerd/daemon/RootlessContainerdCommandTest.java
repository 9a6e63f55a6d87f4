package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.daemon.containerd.ContainerdConfig;
import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.testkit.Require;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code layerd rootless-containerd} and {@code layerd rootless-docker}: the rootlesskit command,
 * the arguments of the run inside, the places and config, and the choice of route by dockerd's
 * version. The daemons themselves run in {@link RootlessContainerdDockerSuite}.
 */
class RootlessContainerdCommandTest {
  private static RootlessContainerdCommand parse(String... args) {
    RootlessContainerdCommand c = new RootlessContainerdCommand();
    new CommandLine(c).parseArgs(args);
    return c;
  }

  @Test
  void rootlesskitGetsSlirp4netnsAPrivateRunAndAStateDirUnderTheRuntimeDir() {
    RootlessContainerdCommand c = parse("--docker");
    List<String> cmd =
        c.rootlesskitCommand(
            "/usr/bin/rootlesskit", Path.of("/run/user/1000"), " --debug ", List.of("java", "X"));
    assertEquals(
        List.of(
            "/usr/bin/rootlesskit",
            "--net=slirp4netns",
            "--mtu=65520",
            "--disable-host-loopback",
            "--port-driver=builtin",
            "--copy-up=/etc",
            "--copy-up=/run",
            "--propagation=rslave",
            "--state-dir=/run/user/1000/layerd-rootlesskit",
            "--debug",
            "java",
            "X"),
        cmd);
  }

  @Test
  void hostNetworkHasNoPortDriver() {
    List<String> cmd =
        parse("--net", "host").rootlesskitCommand("rk", Path.of("/r"), "", List.of("inner"));
    assertTrue(cmd.contains("--net=host"), cmd.toString());
    assertFalse(cmd.stream().anyMatch(a -> a.startsWith("--port-driver")), cmd.toString());
  }

  @Test
  void theRunInsideGetsTheSameSettings() {
    RootlessContainerdCommand c =
        parse(
            "--docker",
            "--driver",
            "vfs",
            "--data-root",
            "/d",
            "--storage-opt",
            "a.b=c",
            "--diff-compression",
            "small",
            "--",
            "--debug",
            "--log-level=warn");
    List<String> args = c.args();
    assertEquals("rootless-containerd", args.get(0));
    RootlessContainerdCommand again = parse(args.subList(1, args.size()).toArray(new String[0]));
    assertTrue(again.docker);
    assertEquals("vfs", again.engine.driver);
    assertEquals(Path.of("/d"), again.engine.dataRoot);
    assertEquals("c", again.engine.storageOpts.get("a.b"));
    assertEquals(DiffCompression.SMALL, again.engine.diffCompression);
    assertEquals(RootlessContainerdCommand.Net.slirp4netns, again.net);
    assertEquals(List.of("--debug", "--log-level=warn"), again.dockerdArgs);
  }

  @Test
  void containerdKeepsItsPlacesWhereRootlessContainerdHasThem() throws Exception {
    var places =
        new RootlessContainerdCommand.Places(
            Path.of("/run/user/7"), Path.of("/home/u/.local/share"));
    JsonNode t =
        ContainerdConfig.parse(places.containerd(Path.of("/home/u/.local/share/layerd")).toToml());
    assertEquals("/run/user/7/containerd/containerd.sock", t.at("/grpc/address").asText());
    assertEquals("/run/user/7/containerd", t.get("state").asText());
    assertEquals("/home/u/.local/share/containerd", t.get("root").asText());
    assertEquals("/run/layerd/snapshotter.sock", t.at("/proxy_plugins/layerd/address").asText());
    assertEquals(
        "/home/u/.local/share/layerd", t.at("/proxy_plugins/layerd/exports/root").asText());
    assertEquals(Path.of("/run/user/7/layerd/containerd.toml"), places.containerdConfig());
  }

  @Test
  void dockerdRunsRootlessOnThatContainerdWithTheImageStore() throws Exception {
    RootlessContainerdCommand c = parse("--docker", "--", "--debug");
    var places = new RootlessContainerdCommand.Places(Path.of("/r"), Path.of("/d"));
    List<String> cmd = c.dockerdCommand(places, "/x/dockerd");
    assertEquals(
        List.of(
            "/x/dockerd",
            "--rootless",
            "--containerd",
            "/r/containerd/containerd.sock",
            "--feature",
            "containerd-snapshotter=true",
            "--storage-driver",
            "layerd",
            "--debug"),
        cmd);
  }

  @Test
  void dockerdVersionsChooseTheRoute() {
    assertEquals(OptionalInt.of(28), Dockerd.major("Docker version 28.5.2+dfsg4, build 3ef3c07"));
    assertEquals(OptionalInt.of(20), Dockerd.major("Docker version 20.10.24+dfsg1, build 5d6db84"));
    assertEquals(OptionalInt.empty(), Dockerd.major("dockerd: command not found"));
    Dockerd old = new Dockerd("/usr/sbin/dockerd", "Docker version 20.10.24", 20);
    Dockerd now = new Dockerd("/x/dockerd", "Docker version 28.5.2", 28);
    var auto = RootlessDockerCommand.Route.auto;
    assertFalse(RootlessDockerCommand.containerdRoute(auto, old));
    assertTrue(RootlessDockerCommand.containerdRoute(auto, now));
    assertTrue(RootlessDockerCommand.containerdRoute(RootlessDockerCommand.Route.containerd, old));
    assertFalse(RootlessDockerCommand.containerdRoute(RootlessDockerCommand.Route.plugin, now));
  }

  @Test
  void rootIsSentToTheRootfulConfig() {
    Require.root();
    String[] r = ConfigCommandTest.layerd("rootless-containerd", "--net", "host");
    assertEquals("1", r[0]);
    assertTrue(r[2].contains("layerd config containerd"), r[2]);
  }
}
