package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.internal.RootlessNamespace;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code --rootless}: a command marked {@link UsesUserNamespace} is re-run inside layerd's own
 * namespace (every subordinate range mapped) when a plain user starts layerctl, and in place with
 * {@code --rootless=false}.
 */
class RootlessHookTest {
  /** Prints this process's uid_map; exit status 5 so the test sees it passed on. */
  @Command(name = "print-map")
  static final class PrintMap implements Callable<Integer>, UsesUserNamespace {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
      spec.commandLine()
          .getOut()
          .print(
              "MAP\n"
                  + Files.readString(Path.of("/proc/self/uid_map"), StandardCharsets.US_ASCII)
                  + "END\n");
      spec.commandLine().getOut().flush();
      return 5;
    }
  }

  /** layerctl with the extra command; what the hook re-executes. */
  static CommandLine commandLine() {
    CommandLine cl = Main.commandLine();
    cl.addSubcommand(new PrintMap());
    cl.setExecutionStrategy(new RootlessHook(RootlessHookTest.class.getName()));
    return cl;
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** In the child (as the test user): runs layerctl ARGS and checks it exits 5. */
  static void run(String[] args) {
    assertEquals(5, commandLine().execute(args));
  }

  private static IdMapping mapIn(String stdout) {
    int a = stdout.indexOf("MAP\n");
    int b = stdout.indexOf("END\n");
    assertTrue(a >= 0 && b > a, stdout);
    return IdMapping.parseProcMap(stdout.substring(a + 4, b));
  }

  @UserNsTest
  void aPlainUserIsReRunInsideTheRootlessLayout() {
    TestUser u = TestUser.standard();
    ChildJvm.Result r =
        ChildJvm.call(u, Mode.USER, RootlessHookTest::run, "print-map").assertSuccess();
    IdMapping m = mapIn(r.stdout());
    assertEquals(
        IdMapping.parseProcMap(
            "0 " + u.uid() + " 1\n1 " + u.subuidStart() + " " + u.subuidCount() + "\n"),
        m);
    ChildJvm.Result t =
        ChildJvm.call(u, Mode.USER, RootlessHookTest::run, "--rootless=true", "print-map")
            .assertSuccess();
    assertEquals(m, mapIn(t.stdout()));
  }

  @UserNsTest
  void falseRunsInPlace() {
    ChildJvm.Result r =
        ChildJvm.call(
                TestUser.standard(),
                Mode.USER,
                RootlessHookTest::run,
                "--rootless=false",
                "print-map")
            .assertSuccess();
    assertTrue(mapIn(r.stdout()).isIdentity(), r.stdout());
  }

  /**
   * A namespace {@code --rootless=true} requires and cannot enter is reported as every command's
   * failures: exit status 5, one line naming the command on standard error, and with {@code --json}
   * the error document on standard output (it was plain text on standard error only). The child is
   * marked as re-executed already, so that no namespace can be entered whatever the machine has.
   */
  @RootTest
  void noNamespaceIsTheCommandsErrorInJson() throws IOException {
    TestUser u = TestUser.standard();
    ChildJvm.Result r =
        ChildJvm.launcher(u, Mode.USER)
            .env(RootlessNamespace.CHILD_ENV, "1")
            .call(
                IdCommandsUserTest::expect,
                Integer.toString(ExitCode.ENVIRONMENT),
                "--rootless=true",
                "unpack",
                "--json",
                "/nonexistent/layer.tar",
                "/nonexistent/dest")
            .assertSuccess();
    JsonNode error = new ObjectMapper().readTree(r.stdout()).path("error");
    assertEquals(ExitCode.ENVIRONMENT, error.path("exitCode").asInt(), r.stdout());
    assertEquals("environment", error.path("kind").asText(), r.stdout());
    assertTrue(
        error.path("message").asText().startsWith("cannot enter a rootless user namespace: "),
        r.stdout());
    assertTrue(
        r.stderr().startsWith("layerctl unpack: cannot enter a rootless user namespace: "),
        r.stderr());
  }
}
