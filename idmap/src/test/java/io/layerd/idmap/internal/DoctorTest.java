package io.layerd.idmap.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each rootless prerequisite, failing one at a time in a temporary root. */
class DoctorTest {
  @TempDir Path root;
  private final Map<String, String> env = new HashMap<>();
  private Doctor.EntryProbe probe = () -> Optional.empty();

  @BeforeEach
  void healthyMachine() throws IOException {
    write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ntestuser:x:1001:1001::/home/testuser:/bin/sh\n");
    write("etc/subuid", "testuser:231072:65536\n");
    write("etc/subgid", "testuser:231072:65536\n");
    write("proc/sys/user/max_user_namespaces", "63498\n");
    tool("usr/bin/newuidmap", true);
    tool("usr/bin/newgidmap", true);
    tool("usr/bin/unshare", false);
    Files.createDirectories(root.resolve("run/user/1001"));
    env.put("PATH", "/usr/local/bin:/usr/bin");
    env.put("XDG_RUNTIME_DIR", "/run/user/1001");
  }

  private void write(String path, String text) throws IOException {
    Path p = root.resolve(path);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
  }

  private void tool(String path, boolean setuid) throws IOException {
    write(path, "#!/bin/sh\n");
    Path p = root.resolve(path);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    if (setuid) {
      Files.setAttribute(p, "unix:mode", 04755);
    }
  }

  private DoctorReport run() throws IOException {
    return new Doctor(new Doctor.Environment(root, env, 1001, 1001, false, probe)).check();
  }

  private DoctorCheck check(String name) throws IOException {
    return run().check(name).orElseThrow();
  }

  private static void assertStatus(CheckStatus s, DoctorCheck c) {
    assertEquals(s, c.status(), c::toString);
  }

  /** Setuid-root files can be made here only by root; CI runs as root. */
  private static boolean root() {
    return Sys.geteuid() == 0;
  }

  /**
   * Issue 14, item 9: {@code max_user_namespaces is 9} when the file holds 96367 (the kernel
   * answers a read at a non-zero offset of an integer sysctl with nothing). The real /proc,
   * compared with what cat reads.
   */
  @Test
  void aRealSysctlIsReadWhole() throws Exception {
    Path f = Path.of("/proc/sys/user/max_user_namespaces");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(f), "no user namespaces here");
    Process cat = new ProcessBuilder("cat", f.toString()).start();
    String truth =
        new String(cat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
    assertEquals(0, cat.waitFor());
    DoctorCheck c =
        new Doctor(new Doctor.Environment(Path.of("/"), env, 1001, 1001, false, probe))
            .check()
            .check("max_user_namespaces")
            .orElseThrow();
    assertTrue(c.detail().endsWith(" is " + truth), c.detail() + " (cat reads " + truth + ")");
  }

  @Test
  void healthyMachinePasses() throws IOException {
    DoctorReport r = run();
    for (DoctorCheck c : r.checks()) {
      if (!root() && c.name().startsWith("new")) {
        continue;
      }
      assertStatus(CheckStatus.PASS, c);
    }
    assertEquals(
        List.of(
            "user",
            "subuid",
            "subgid",
            "subid-files",
            "newuidmap",
            "newgidmap",
            "unshare",
            "max_user_namespaces",
            "unprivileged_userns_clone",
            "apparmor_userns",
            "XDG_RUNTIME_DIR",
            "userns"),
        r.checks().stream().map(DoctorCheck::name).toList());
    assertTrue(r.check("subuid").orElseThrow().detail().contains("/etc/subuid:1"));
    if (root()) {
      assertTrue(r.ok(), r::toText);
      assertTrue(r.toText().endsWith("Rootless prerequisites are met.\n"), r::toText);
    }
  }

  @Test
  void noSubuidRangeForTheUser() throws IOException {
    write("etc/subuid", "alice:100000:65536\n");
    write("etc/subgid", "alice:100000:65536\n");
    DoctorCheck c = check("subuid");
    assertStatus(CheckStatus.FAIL, c);
    assertEquals(
        "No subuid ranges found for user 1001 (\"testuser\") in " + root.resolve("etc/subuid"),
        c.detail());
    assertTrue(
        c.remedy()
            .contains(
                "`sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 testuser`"),
        c.remedy());
    assertTrue(c.remedy().contains("\"testuser:165536:65536\" to /etc/subuid"), c.remedy());
    assertTrue(c.remedy().contains("at least 65,536"), c.remedy());
    assertStatus(CheckStatus.FAIL, check("subgid"));
    assertFalse(run().ok());
  }

  @Test
  void rangesByNumericUidCount() throws IOException {
    write("etc/subuid", "1001:231072:65536\n");
    assertStatus(CheckStatus.PASS, check("subuid"));
  }

  @Test
  void missingSubuidFile() throws IOException {
    Files.delete(root.resolve("etc/subuid"));
    DoctorCheck c = check("subuid");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.detail().endsWith("etc/subuid does not exist"), c.detail());
  }

  @Test
  void fewerThan65536IdsIsAWarning() throws IOException {
    write("etc/subgid", "testuser:231072:1000\n");
    DoctorCheck c = check("subgid");
    assertStatus(CheckStatus.WARN, c);
    assertTrue(c.detail().contains("only 1,000 subordinate gids"), c.detail());
    assertTrue(c.detail().contains("lchown <FILE>: invalid argument"), c.detail());
    assertTrue(c.remedy().contains("--add-subgids 232072-297607"), c.remedy());
    assertFalse(c.remedy().contains("--add-subuids"), c.remedy());
  }

  @Test
  void overlappingRangesOfTheUserFail() throws IOException {
    write("etc/subuid", "testuser:231072:65536\ntestuser:231072:10\n");
    assertStatus(CheckStatus.FAIL, check("subuid"));
    DoctorCheck files = check("subid-files");
    assertStatus(CheckStatus.WARN, files);
    assertTrue(files.detail().contains("etc/subuid:2: warning:"), files.detail());
  }

  @Test
  void malformedLinesAreListedWithFileAndLine() throws IOException {
    write("etc/subgid", "testuser:231072:65536\nbroken line\n");
    DoctorCheck c = check("subid-files");
    assertStatus(CheckStatus.WARN, c);
    assertTrue(c.detail().contains(root.resolve("etc/subgid") + ":2: error:"), c.detail());
  }

  @Test
  void newuidmapMissing() throws IOException {
    Files.delete(root.resolve("usr/bin/newuidmap"));
    DoctorCheck c = check("newuidmap");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.remedy().contains("uidmap package"), c.remedy());
    assertTrue(c.remedy().contains("sudo apt-get install -y uidmap"), c.remedy());
  }

  @Test
  void newgidmapNotSetuid() throws IOException {
    tool("usr/bin/newgidmap", false);
    DoctorCheck c = check("newgidmap");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.detail().contains("neither setuid root"), c.detail());
  }

  @Test
  void maxUserNamespacesZero() throws IOException {
    write("proc/sys/user/max_user_namespaces", "0\n");
    DoctorCheck c = check("max_user_namespaces");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.remedy().contains("user.max_user_namespaces=28633"), c.remedy());
    assertTrue(c.remedy().contains("sudo sysctl --system"), c.remedy());
  }

  @Test
  void unprivilegedUsernsCloneZero() throws IOException {
    write("proc/sys/kernel/unprivileged_userns_clone", "0\n");
    DoctorCheck c = check("unprivileged_userns_clone");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.remedy().contains("kernel.unprivileged_userns_clone=1"), c.remedy());
    write("proc/sys/kernel/unprivileged_userns_clone", "1\n");
    assertStatus(CheckStatus.PASS, check("unprivileged_userns_clone"));
  }

  @Test
  void ubuntuAppArmorRestriction() throws IOException {
    write("proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n");
    DoctorCheck c = check("apparmor_userns");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.remedy().contains("/etc/apparmor.d/usr.bin.unshare"), c.remedy());
    assertTrue(c.remedy().contains("userns,"), c.remedy());
    assertTrue(c.remedy().contains("systemctl restart apparmor.service"), c.remedy());
    assertTrue(c.remedy().contains("kernel.apparmor_restrict_unprivileged_userns=0"), c.remedy());
  }

  @Test
  void xdgRuntimeDirUnsetIsAWarning() throws IOException {
    env.remove("XDG_RUNTIME_DIR");
    DoctorCheck c = check("XDG_RUNTIME_DIR");
    assertStatus(CheckStatus.WARN, c);
    assertTrue(c.remedy().contains("/run/user/1001"), c.remedy());
    assertTrue(c.remedy().contains("export XDG_RUNTIME_DIR="), c.remedy());
  }

  @Test
  void probeFailureNamesTheOtherFailures() throws IOException {
    write("proc/sys/user/max_user_namespaces", "0\n");
    probe = () -> Optional.of("unshare: unshare failed: No space left on device");
    DoctorCheck c = check("userns");
    assertStatus(CheckStatus.FAIL, c);
    assertTrue(c.detail().contains("No space left on device"), c.detail());
    assertTrue(c.remedy().contains("max_user_namespaces"), c.remedy());
  }

  @Test
  void rootNeedsNoSubordinateIds() throws IOException {
    write("etc/subuid", "");
    DoctorReport r = new Doctor(new Doctor.Environment(root, env, 0, 0, false, probe)).check();
    assertStatus(CheckStatus.PASS, r.check("subuid").orElseThrow());
    assertTrue(r.check("user").orElseThrow().detail().contains("root"));
    // root checking a user: that user's ranges, no probe
    DoctorReport forUser =
        new Doctor(new Doctor.Environment(root, env, 0, 0, false, probe)).check("testuser");
    assertStatus(CheckStatus.FAIL, forUser.check("subuid").orElseThrow());
    assertTrue(forUser.check("userns").isEmpty());
  }

  @Test
  void alreadyInsideANamespace() throws IOException {
    DoctorReport r = new Doctor(new Doctor.Environment(root, env, 1001, 1001, true, null)).check();
    assertTrue(r.check("userns").orElseThrow().detail().contains("already inside"));
    assertTrue(r.check("user").orElseThrow().detail().contains("already runs inside"));
  }

  @Test
  void entryBlockersAreOnlyTheFailures() throws IOException {
    Files.delete(root.resolve("usr/bin/newuidmap"));
    env.remove("XDG_RUNTIME_DIR");
    List<DoctorCheck> b =
        new Doctor(new Doctor.Environment(root, env, 1001, 1001, false, probe)).entryBlockers();
    assertEquals(List.of("newuidmap"), b.stream().map(DoctorCheck::name).toList());
  }

  @Test
  void theRealMachineCanBeChecked() throws IOException {
    DoctorReport r = new Doctor(Doctor.Environment.system().withProbe(null)).check();
    assertFalse(r.checks().isEmpty());
    assertTrue(r.toText().contains("max_user_namespaces"));
  }
}
