package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * check-ids, doctor and idmap show as real unprivileged users with real subordinate ranges: a layer
 * owning a file as uid 70000 does not fit the 65,536 ids of {@code layerd-test} (exit 3, with the
 * usermod command) and fits a user with twice as many.
 */
class IdCommandsUserTest {
  private Path dir;
  private Path layer;

  @BeforeEach
  void layer() throws IOException {
    dir = readableDirectory("layerd-check-ids-");
    layer = dir.resolve("layer.tar.gz");
    Files.write(
        layer,
        TarBuilder.create()
            .dir("usr/")
            .file("usr/share/big", "x")
            .owner(70000, 70000)
            .file("etc/hostname", "h\n")
            .gzip());
  }

  @AfterEach
  void clean() throws IOException {
    TestFiles.deleteTree(dir);
  }

  @UserNsTest
  void uid70000DoesNotFit65536Ids() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.Result r =
        ChildJvm.call(
                u,
                Mode.USER,
                IdCommandsUserTest::expect,
                "3",
                "check-ids",
                "--json",
                layer.toString())
            .assertSuccess();
    JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
    assertEquals(false, j.get("fits").asBoolean());
    assertEquals(70000, j.at("/highestUid/id").asLong());
    assertEquals("usr/share/big", j.at("/outside/0/path").asText());
    assertEquals(65536, j.at("/subordinateIds/uids/have").asLong());
    assertEquals(70000, j.at("/subordinateIds/uids/needed").asLong());
    String remedy = j.get("remedy").asText();
    assertTrue(
        remedy.matches("sudo usermod --add-subuids \\d+-\\d+ --add-subgids \\d+-\\d+ " + u.name()),
        remedy);
    assertTrue(j.at("/mapping/source").asText().contains("rootless layout"));
    // the same in text, with the same status
    ChildJvm.Result t =
        ChildJvm.call(u, Mode.USER, IdCommandsUserTest::expect, "3", "check-ids", layer.toString())
            .assertSuccess();
    assertTrue(
        t.stdout().contains("does not fit: 1 entry needs ids outside the mapping"), t.stdout());
    assertTrue(t.stdout().contains("usr/share/big uid 70000 gid 70000"), t.stdout());
    assertTrue(t.stdout().contains("fix: sudo usermod --add-subuids "), t.stdout());
    assertTrue(t.stdout().contains(" --add-subgids "), t.stdout());
    assertFalse(t.stdout().contains("then restart layerd"), t.stdout());
    // as root, for that user
    Cli.Run root = Cli.run("check-ids", "--user", u.name(), layer.toString());
    assertEquals(CheckIdsCommand.DOES_NOT_FIT, root.code(), root.out() + root.err());
    // a uid alone out of range: the fix adds gids too, as the unpack error's does
    Path uidOnly = dir.resolve("uid-only.tar");
    TarBuilder.create().file("f", "x").owner(70000, 0).writeTo(uidOnly);
    Cli.Run one = Cli.run("check-ids", "--user", u.name(), uidOnly.toString());
    assertEquals(CheckIdsCommand.DOES_NOT_FIT, one.code(), one.out() + one.err());
    assertTrue(
        one.out().matches("(?s).*fix: sudo usermod --add-subuids \\S+ --add-subgids .*"),
        one.out());
  }

  @UserNsTest
  void uid70000FitsABiggerRange() {
    TestUser big = TestUser.withIds("layerd-idmap-big", 2 * 65536);
    ChildJvm.call(big, Mode.USER, IdCommandsUserTest::expect, "0", "check-ids", layer.toString())
        .assertSuccess();
    assertEquals(0, Cli.run("check-ids", "--user", big.name(), layer.toString()).code());
  }

  @UserNsTest
  void doctorAndIdmapShowAsTheTestUser() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.Result d =
        ChildJvm.call(u, Mode.USER, IdCommandsUserTest::expect, "0", "doctor").assertSuccess();
    assertTrue(d.stdout().contains("Rootless prerequisites are met"), d.stdout());
    ChildJvm.Result s =
        ChildJvm.call(u, Mode.USER, IdCommandsUserTest::expect, "0", "idmap", "show", "--json")
            .assertSuccess();
    JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(s.stdout());
    assertEquals(u.name(), j.at("/user/name").asText());
    assertEquals(u.subuidStart(), j.at("/subuid/ranges/0/start").asLong());
    assertEquals(u.uid(), j.at("/effective/uids/0/hostId").asLong());
    assertEquals(u.subuidStart(), j.at("/effective/uids/1/hostId").asLong());
    assertEquals(65536, j.at("/effective/uids/1/size").asLong());
    // inside a namespace, the namespace's own map is the effective one
    ChildJvm.Result in =
        ChildJvm.call(
                u, Mode.USER_NAMESPACE, IdCommandsUserTest::expect, "0", "idmap", "show", "--json")
            .assertSuccess();
    JsonNode k = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in.stdout());
    assertTrue(k.get("inUserNamespace").asBoolean());
    assertEquals(65535, k.at("/effective/uids/1/size").asLong());
  }

  /** In the child: runs layerctl with args[1..] and checks that it exits with args[0]. */
  /** A new directory under /tmp that every user can read (root's default would be 0700). */
  static Path readableDirectory(String prefix) throws IOException {
    Path d = Files.createTempDirectory(Path.of("/tmp"), prefix);
    Sys.fchmodat(Sys.AT_FDCWD, d.toString().getBytes(StandardCharsets.UTF_8), 0755, 0);
    return d;
  }

  static void expect(String[] args) {
    String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
    Cli.Run r = Cli.run(rest);
    System.out.print(r.out());
    System.err.print(r.err());
    assertEquals(
        Integer.parseInt(args[0]),
        r.code(),
        () -> "layerctl " + String.join(" ", rest) + ": " + r.err() + r.out());
  }
}
