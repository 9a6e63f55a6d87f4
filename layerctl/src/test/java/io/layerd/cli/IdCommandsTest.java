package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** check-ids, doctor and idmap show in this JVM (as root: the identity mapping). */
class IdCommandsTest {
  @TempDir Path dir;

  @Test
  void usage() {
    Cli.Run r = Cli.run("check-ids");
    assertEquals(2, r.code(), r.err());
    assertTrue(Cli.run("check-ids", "--help").out().contains("some entries do not fit"));
    assertEquals(2, Cli.run("--rootless=sometimes", "doctor").code());
  }

  @RootTest
  void asRootEveryValidIdFits() throws IOException {
    Path layer = dir.resolve("layer.tar.gz");
    Files.write(layer, TarBuilder.create().file("usr/big", "x").owner(70000, 5000).gzip());
    Cli.Run r = Cli.run("check-ids", layer.toString());
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("highest uid: 70000 (layer.tar.gz: usr/big)"), r.out());
    assertTrue(r.out().contains("fits: every owner is within the mapping"), r.out());
    JsonNode j = Cli.run("check-ids", "--json", layer.toString()).json();
    assertTrue(j.get("fits").asBoolean());
    assertEquals(70000, j.at("/highestUid/id").asLong());
    assertEquals(5000, j.at("/highestGid/id").asLong());
    assertEquals("root in the initial namespace: every id", j.at("/mapping/source").asText());
  }

  @RootTest
  void anIdNoMappingHasDoesNotFit() throws IOException {
    Path layer = dir.resolve("layer.tar");
    Files.write(
        layer, TarBuilder.create().file("ok", "x").file("bad", "y").owner(4294967295L, 0).build());
    Cli.Run r = Cli.run("check-ids", layer.toString());
    assertEquals(CheckIdsCommand.DOES_NOT_FIT, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("does not fit: 1 entry needs ids outside the mapping"), r.out());
    assertTrue(r.out().contains("layer.tar: bad uid 4294967295"), r.out());
    JsonNode j = Cli.run("check-ids", "--json", layer.toString()).json();
    assertFalse(j.get("fits").asBoolean());
    assertEquals(1, j.get("outsideTotal").asLong());
    assertEquals("bad", j.at("/outside/0/path").asText());
    assertFalse(j.at("/outside/0/uidMapped").asBoolean());
    assertTrue(j.at("/outside/0/gidMapped").asBoolean());
  }

  @Test
  void unreadableInputIsAnError() throws IOException {
    Path junk = dir.resolve("junk");
    Files.writeString(junk, "not a layer");
    Cli.Run r = Cli.run("check-ids", junk.toString());
    assertEquals(ExitCode.BAD_INPUT, r.code());
    assertTrue(r.err().contains("junk"), r.err());
  }

  @Test
  void readsEveryKindOfInputTogether() throws IOException {
    Cli.Run r =
        Cli.run(
            "check-ids",
            "--json",
            TestData.file("images/busybox-1.38.0-glibc-oci").toString(),
            TestData.file("images/dive-test-docker-image.tar").toString(),
            TestData.file("layers/cirros-0.5.3-rootfs-x86_64.tar.xz").toString());
    JsonNode j = r.json();
    assertEquals(3, j.get("inputs").size());
    assertEquals("OCI image layout", j.at("/inputs/0/kind").asText());
    assertEquals(14, j.at("/inputs/1/layers").size());
    assertEquals(65534, j.at("/highestUid/id").asLong());
  }

  @Test
  void doctorJsonHasEveryCheck() throws IOException {
    Cli.Run r = Cli.run("doctor", "--json");
    JsonNode j = r.json();
    assertEquals(j.get("ok").asBoolean() ? 0 : DoctorCommand.MISSING, r.code());
    assertTrue(j.get("checks").size() >= 10);
    for (JsonNode c : j.get("checks")) {
      assertTrue(c.get("status").asText().matches("pass|warn|fail"), c::toString);
      if (!c.get("status").asText().equals("pass")) {
        assertFalse(c.get("remedy").asText().isEmpty(), c::toString);
      }
    }
    Cli.Run text = Cli.run("doctor");
    assertTrue(text.out().contains("max_user_namespaces"), text.out());
  }

  @Test
  void idmapShow() throws IOException {
    JsonNode j = Cli.run("idmap", "show", "--json").json();
    assertEquals(Sys.getuid(), j.at("/user/uid").asLong());
    assertTrue(j.has("subuid") && j.has("subgid") && j.has("effective"));
    assertFalse(j.at("/effective/uids").isEmpty());
    Cli.Run text = Cli.run("idmap", "show");
    assertEquals(0, text.code(), text.err());
    assertTrue(text.out().contains("effective mapping: "), text.out());
  }
}
