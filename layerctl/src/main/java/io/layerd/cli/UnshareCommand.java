package io.layerd.cli;

import io.layerd.idmap.internal.RootlessException;
import io.layerd.idmap.internal.RootlessNamespace;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code layerctl unshare [CMD [ARG...]]}: runs a command (by default the user's shell) inside the
 * rootless user namespace layerctl and layerd use, as {@code podman unshare} does: the user is root
 * there, and every subordinate id is mapped, so that the trees a rootless unpack made can be
 * inspected, changed and removed.
 */
@Command(
    name = "unshare",
    mixinStandardHelpOptions = true,
    description = {
      "Run CMD (default: $SHELL) inside the rootless user namespace: the user's own id as root"
          + " (0), then every subordinate range (/etc/subuid, /etc/subgid), in a new mount"
          + " namespace. The exit status is CMD's.",
      "As root, or already inside a user namespace, CMD simply runs."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl unshare                          # a shell as root of the namespace",
      "  layerctl unshare ls -ln rootfs/etc        # owners as the image has them",
      "  layerctl unshare rm -rf rootfs"
    })
final class UnshareCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      arity = "0..*",
      paramLabel = "CMD",
      description = "The command and its arguments (default: $SHELL, else /bin/sh).")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    List<String> cmd = new ArrayList<>(command);
    if (cmd.isEmpty()) {
      String shell = System.getenv("SHELL");
      cmd.add(shell == null || shell.isEmpty() ? "/bin/sh" : shell);
    }
    spec.commandLine().getOut().flush();
    if (RootlessNamespace.isRoot() || RootlessNamespace.inUserNamespace()) {
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      return p.waitFor();
    }
    RootlessNamespace.Plan plan =
        RootlessNamespace.plan(io.layerd.idmap.internal.RootlessMode.TRUE);
    if (plan.decision() != RootlessNamespace.Decision.ENTER) {
      throw new RootlessException(plan.failureMessage(), plan.blockers());
    }
    return RootlessNamespace.run(RootlessNamespace.Launcher.NEWUIDMAP, cmd, Map.of(), null);
  }
}
