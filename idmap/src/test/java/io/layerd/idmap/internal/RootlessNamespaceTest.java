package io.layerd.idmap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RootlessNamespaceTest {
  @Test
  void javaCommandReRunsThisJvm() {
    List<String> cmd = RootlessNamespace.javaCommand("a.b.Main", new String[] {"x", "--y=1"});
    assertTrue(cmd.get(0).endsWith("/bin/java"), cmd::toString);
    int cp = cmd.indexOf("-cp");
    assertEquals(System.getProperty("java.class.path"), cmd.get(cp + 1));
    assertEquals(List.of("a.b.Main", "x", "--y=1"), cmd.subList(cp + 2, cmd.size()));
  }

  @Test
  void falseNeverReExecutes() throws IOException {
    assertEquals(
        RootlessNamespace.Decision.DISABLED, RootlessNamespace.plan(RootlessMode.FALSE).decision());
    assertEquals(
        OptionalInt.empty(),
        RootlessNamespace.reexec(
            RootlessMode.FALSE,
            RootlessNamespace.Launcher.NEWUIDMAP,
            "x.Y",
            new String[0],
            RootlessNamespaceTest::noWarning));
  }

  @RootTest
  void rootNeedsNoNamespace() throws IOException {
    assertEquals(0, Sys.geteuid());
    assertTrue(RootlessNamespace.isRoot());
    assertEquals(
        RootlessNamespace.Decision.ROOT, RootlessNamespace.plan(RootlessMode.TRUE).decision());
    assertEquals(
        OptionalInt.empty(),
        RootlessNamespace.reexec(
            RootlessMode.TRUE,
            RootlessNamespace.Launcher.NEWUIDMAP,
            "x.Y",
            new String[0],
            RootlessNamespaceTest::noWarning));
    assertTrue(EffectiveMapping.resolve(RootlessMode.AUTO).mappings().isIdentity());
  }

  @Test
  void planForAUserWithoutRangesNamesEachRemedy(@TempDir Path root) throws IOException {
    Files.createDirectories(root.resolve("etc"));
    Files.writeString(root.resolve("etc/passwd"), "testuser:x:1001:1001::/home/testuser:/bin/sh\n");
    Files.writeString(root.resolve("etc/subuid"), "");
    Files.writeString(root.resolve("etc/subgid"), "");
    Files.createDirectories(root.resolve("proc/sys/user"));
    Files.writeString(root.resolve("proc/sys/user/max_user_namespaces"), "100\n");
    Doctor.Environment env =
        new Doctor.Environment(root, Map.of("PATH", "/usr/bin"), 1001, 1001, false, null);
    RootlessNamespace.Plan p = RootlessNamespace.plan(RootlessMode.TRUE, env);
    assertEquals(RootlessNamespace.Decision.UNAVAILABLE, p.decision());
    String m = p.failureMessage();
    assertTrue(
        m.startsWith("cannot enter a rootless user namespace: subuid, subgid, newuidmap"), m);
    assertTrue(m.contains("No subuid ranges found for user 1001 (\"testuser\")"), m);
    assertTrue(
        m.contains("sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 testuser"),
        m);
    assertTrue(m.contains("sudo apt-get install -y uidmap"), m);
    assertEquals(
        RootlessNamespace.Decision.INSIDE,
        RootlessNamespace.plan(
                RootlessMode.TRUE, new Doctor.Environment(root, Map.of(), 1001, 1001, true, null))
            .decision());
    assertEquals(
        RootlessNamespace.Decision.UNAVAILABLE,
        RootlessNamespace.plan(
                RootlessMode.AUTO,
                new Doctor.Environment(
                    root, Map.of(RootlessNamespace.CHILD_ENV, "1"), 1001, 1001, false, null))
            .decision(),
        "a re-executed child outside a namespace never re-executes again");
  }

  @Test
  void planFailureMessageListsRemedies() {
    RootlessNamespace.Plan p =
        new RootlessNamespace.Plan(
            RootlessNamespace.Decision.UNAVAILABLE,
            "newuidmap is missing",
            List.of(
                new DoctorCheck(
                    "newuidmap", CheckStatus.FAIL, "newuidmap was not found", "Install uidmap.")));
    assertEquals(
        "cannot enter a rootless user namespace: newuidmap is missing\n"
            + "  newuidmap: newuidmap was not found\n"
            + "    remedy: Install uidmap.",
        p.failureMessage());
  }

  /** For modes that never go on without a namespace: a warning would be a bug. */
  static void noWarning(String warning) {
    org.junit.jupiter.api.Assertions.fail("unexpected warning: " + warning);
  }
}
