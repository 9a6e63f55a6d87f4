package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, item 1: the checkout's launchers ({@code ./layerctl.sh}, {@code ./layerd}) walked the
 * whole repository with {@code find} at every start to decide whether to build. Their shared {@code
 * dev/build-if-stale.sh} looks at the poms and the modules' {@code src/main} trees only: it builds
 * after a change there (a file changed, added or removed) and at no other time. Run on a repository
 * laid out in a temporary directory, with a {@code mvn} on the PATH that records its calls and
 * makes the jar (or fails, when told to).
 */
class LauncherBuildTest {
  static final Path SCRIPT = Path.of("..", "dev", "build-if-stale.sh").toAbsolutePath().normalize();

  @TempDir Path tmp;
  Path root;
  Path calls;
  Path jar;

  @BeforeEach
  void repository() throws IOException {
    root = Files.createDirectories(tmp.resolve("repo"));
    for (String f :
        List.of(
            "pom.xml",
            "tool/pom.xml",
            "tool/src/main/java/io/x/Main.java",
            "tool/src/main/resources/defaults.properties",
            "tool/src/test/java/io/x/MainTest.java",
            "drivers/d/pom.xml",
            "drivers/d/src/main/java/io/x/D.java",
            "testdata/layer.tar",
            "README.md",
            ".git/index")) {
      write(f, "v1");
    }
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    calls = tmp.resolve("mvn-calls");
    jar = root.resolve("tool/target/tool.jar");
    Path mvn = bin.resolve("mvn");
    Files.writeString(
        mvn,
        "#!/bin/sh\n"
            + "echo \"$PWD $*\" >> '"
            + calls
            + "'\n"
            + "[ -z \"$MVN_FAILS\" ] || { echo 'a compiler error'; exit 1; }\n"
            + "mkdir -p '"
            + jar.getParent()
            + "' && echo jar > '"
            + jar
            + "'\n");
    Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
    settle();
  }

  private void write(String name, String content) throws IOException {
    Path p = root.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }

  /**
   * Puts every entry of the repository (target/ aside) 20 s and the stamp, if any, 10 s in the
   * past: what the test changes next is newer than the stamp, whatever the clock's granularity.
   */
  private void settle() throws IOException {
    FileTime old = FileTime.from(Instant.now().minusSeconds(20));
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.filter(p -> !root.relativize(p).toString().contains("target")).toList()) {
        Files.setLastModifiedTime(p, old);
      }
    }
    Path stamp = jar.resolveSibling(".built");
    if (Files.exists(stamp)) {
      Files.setLastModifiedTime(stamp, FileTime.from(Instant.now().minusSeconds(10)));
    }
  }

  /** Runs the launchers' build step; returns its exit status and output. */
  private Result start(boolean mvnFails) throws IOException, InterruptedException {
    ProcessBuilder pb =
        new ProcessBuilder(
                "bash",
                "-c",
                ". \"$0\" && layerd_build_if_stale \"$1\" tool tool \"$2\"",
                SCRIPT.toString(),
                root.toString(),
                jar.toString())
            .redirectErrorStream(true);
    pb.environment().put("PATH", tmp.resolve("bin") + ":" + System.getenv("PATH"));
    if (mvnFails) {
      pb.environment().put("MVN_FAILS", "1");
    }
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Result(p.waitFor(), out, builds());
  }

  record Result(int status, String output, int builds) {}

  private int builds() throws IOException {
    return Files.exists(calls) ? Files.readAllLines(calls).size() : 0;
  }

  /** Starts once, expecting a build (or none), then settles the tree. */
  private void expect(boolean build, String why) throws IOException, InterruptedException {
    int before = builds();
    Result r = start(false);
    assertEquals(0, r.status(), why + ": " + r.output());
    assertEquals(before + (build ? 1 : 0), r.builds(), why + ": " + r.output());
    assertEquals(build, r.output().contains("tool: building"), why + ": " + r.output());
    settle();
  }

  @Test
  void buildsAfterASourceChangeAndNotOtherwise() throws IOException, InterruptedException {
    expect(true, "first use: no jar");
    assertEquals(
        List.of(root + " -B -q -pl tool -am package -DskipTests -Dspotless.check.skip=true"),
        Files.readAllLines(calls));
    expect(false, "nothing changed");

    write("tool/src/test/java/io/x/MainTest.java", "v2");
    write("testdata/layer.tar", "v2");
    write("README.md", "v2");
    write(".git/index", "v2");
    write("tool/target/classes/io/x/Main.class", "v2");
    expect(false, "tests, test data, docs, git and build output are not build inputs");

    write("tool/src/main/java/io/x/Main.java", "v2");
    expect(true, "a source changed");
    expect(false, "built since");

    write("tool/src/main/resources/defaults.properties", "v2");
    expect(true, "a resource changed");

    Files.delete(root.resolve("drivers/d/src/main/java/io/x/D.java"));
    expect(true, "a source removed (its directory changed)");

    write("drivers/d/pom.xml", "v2");
    expect(true, "a module's pom changed");
    write("pom.xml", "v2");
    expect(true, "the parent pom changed");

    Files.delete(jar);
    expect(true, "the jar is gone");
  }

  @Test
  void aFailedBuildIsSaidAndTriedAgainNextTime() throws IOException, InterruptedException {
    expect(true, "first use");
    write("tool/src/main/java/io/x/Main.java", "v2");
    Result failed = start(true);
    assertEquals(1, failed.status(), failed.output());
    assertTrue(failed.output().contains("a compiler error"), failed.output());
    assertTrue(
        failed.output().contains("tool: the build failed; run 'mvn -B -pl tool -am package' in"),
        failed.output());
    expect(true, "the failed build left the stamp as it was");
    expect(false, "built since");
  }
}
