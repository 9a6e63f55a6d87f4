package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.RootTest;
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
 * Issue 14, item 9: a newcomer's first hour as a plain user. Errors said the syscall ({@code
 * mkdirat: EACCES}) instead of the problem, owners were dropped without a word, and {@code driver
 * probe} answered for an engine that user would never run (outside the user namespace).
 */
class AsPlainUserTest {
  private Path dir;
  private Path layer;

  @BeforeEach
  void layer() throws IOException {
    dir = IdCommandsUserTest.readableDirectory("layerd-unpack-user-");
    TarBuilder t = TarBuilder.create().dir("etc/").owner(0, 0).file("etc/shadow", "x");
    layer = Files.write(dir.resolve("layer.tar"), t.owner(0, 42).file("home/u/f", "f").build());
  }

  @AfterEach
  void clean() throws IOException {
    TestFiles.deleteTree(dir);
  }

  private ChildJvm.Result unpack(TestUser u, int expected, String dest) {
    return ChildJvm.call(
            u,
            Mode.USER,
            IdCommandsUserTest::expect,
            Integer.toString(expected),
            "--rootless=false",
            "unpack",
            layer.toString(),
            dest)
        .assertSuccess();
  }

  @RootTest
  void destinationsTheUserCannotWriteAndDroppedOwnersAreSaidPlainly() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.Result parent = unpack(u, 1, dir.resolve("new").toString());
    assertTrue(
        parent
            .stderr()
            .contains(
                "cannot be made: uid "
                    + u.uid()
                    + " may not write in "
                    + dir
                    + " (mkdirat: EACCES)"),
        parent.stderr());

    Path existing = Files.createDirectories(dir.resolve("existing"));
    ChildJvm.Result exists = unpack(u, 1, existing.toString());
    assertTrue(
        exists.stderr().contains(existing + ": not writable by uid " + u.uid()), exists.stderr());
    assertFalse(exists.stderr().contains("fchownat"), exists.stderr());

    Path mine = Files.createDirectories(dir.resolve("mine"));
    Sys.fchownat(
        Sys.AT_FDCWD, mine.toString().getBytes(StandardCharsets.UTF_8), u.uid(), u.gid(), 0);
    ChildJvm.Result dropped = unpack(u, 0, mine.resolve("dest").toString());
    assertTrue(
        dropped
            .stderr()
            .matches("(?s).*no user namespace: the owners of \\d+ entries were not kept.*"),
        dropped.stderr());
    assertTrue(dropped.stderr().contains("layerctl doctor"), dropped.stderr());
  }

  /** The probe enters the user namespace as layerd does, and says for which engine it answers. */
  @UserNsTest
  void driverProbeAnswersForTheRootlessEngine() throws IOException {
    TestUser u = TestUser.standard();
    Path mine = Files.createDirectories(dir.resolve("probe"));
    Sys.fchownat(
        Sys.AT_FDCWD, mine.toString().getBytes(StandardCharsets.UTF_8), u.uid(), u.gid(), 0);
    ChildJvm.Result r =
        ChildJvm.call(
                u,
                Mode.USER,
                IdCommandsUserTest::expect,
                "0",
                "driver",
                "probe",
                "--json",
                "--data-root",
                mine.resolve("root").toString())
            .assertSuccess();
    JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
    assertTrue(j.get("userNamespace").asBoolean(), r.stdout());
    assertTrue(j.get("probedAs").asText().contains("rootless engine"), r.stdout());
    assertEquals(0, j.get("uid").asLong(), "root inside the namespace, as layerd runs");
  }
}
