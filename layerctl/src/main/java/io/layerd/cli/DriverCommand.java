package io.layerd.cli;

import io.layerd.engine.DefaultPaths;
import io.layerd.engine.DriverSelector;
import io.layerd.engine.internal.DataRoot;
import io.layerd.engine.spi.FsInfo;
import io.layerd.engine.spi.Host;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code layerctl driver}: the storage drivers, and which one a data-root would use. */
@Command(
    name = "driver",
    mixinStandardHelpOptions = true,
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl driver probe",
      "  layerctl driver probe --data-root /var/lib/layerd --json"
    },
    description = "Storage drivers: which ones work here, and which one a data-root would use.",
    subcommands = {DriverCommand.Probe.class})
final class DriverCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Exit status when no driver can be chosen. */
  static final int NO_DRIVER = ExitCode.ENVIRONMENT;

  /** Whose engine the verdicts are for. */
  static String probedAs(Host host) {
    if (host.realRoot()) {
      return "root's engine (layerd run by root)";
    }
    if (host.inUserNamespace()) {
      return "this user's rootless engine (layerd in its user namespace, as it runs)";
    }
    return "this user without a user namespace (--rootless=false, or none could be entered):"
        + " layerd, which enters one, may choose otherwise";
  }

  /** {@code layerctl driver probe}: every driver's verdict, and the choice with why. */
  @Command(
      name = "probe",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {
        "  layerctl driver probe            # exit 5 when no driver can be chosen",
        "  layerctl driver probe --driver overlay2 --json"
      },
      description = {
        "Probe every storage driver for real (kernel version, a test mount, helper binaries, the"
            + " data-root's filesystem, /dev/fuse) and say which one the data-root would use, and"
            + " why: an explicit choice (--driver, else LAYERD_DRIVER), else the driver whose"
            + " layers are already there, else the first usable one by priority.",
        "A plain user's probe runs inside the rootless user namespace, as layerd does"
            + " (--rootless says when): it answers for the engine that user would run.",
        "A missing data-root is created (mode 0700). The verdicts are written to the data-root's"
            + " probe cache, which the engine uses while the kernel, the user and the drivers stay"
            + " the same; this command always probes afresh."
      })
  static final class Probe implements Callable<Integer>, UsesUserNamespace {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(
        names = "--data-root",
        paramLabel = "DIR",
        description =
            "The data-root (default: /var/lib/layerd as root, ~/.local/share/layerd as a user).")
    Path dataRoot;

    @Option(
        names = "--driver",
        paramLabel = "NAME",
        description = "Choose this driver explicitly (overrides LAYERD_DRIVER).")
    String driver;

    @Option(names = "--json", description = "Print a JSON document instead of text.")
    boolean json;

    @Override
    public Integer call() throws IOException {
      Map<String, String> env = System.getenv();
      Host host = Host.current();
      Path root =
          DataRoot.prepare(
              dataRoot != null ? dataRoot : DefaultPaths.of(host, env).dataRoot(), host);
      DriverSelector.Explicit explicit = DriverSelector.explicitChoice(driver, null, env);
      DriverSelector.Selection selection = null;
      List<DriverSelector.Verdict> verdicts;
      String error = null;
      try {
        selection =
            DriverSelector.select(
                root,
                host,
                explicit,
                Map.of(),
                DriverSelector.installed(),
                DriverSelector.Probing.FRESH);
        verdicts = selection.drivers();
      } catch (DriverSelector.SelectionFailure f) {
        verdicts = f.drivers();
        error = f.getMessage();
      }
      FsInfo fs = host.filesystems().probe(root);
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("dataRoot", root.toString());
        doc.put("backingFilesystem", fs.backingName());
        doc.put("kernel", host.kernel().release());
        doc.put("uid", Sys.geteuid());
        doc.put("userNamespace", host.inUserNamespace());
        doc.put("probedAs", probedAs(host));
        doc.put("explicit", explicit == null ? null : explicit.driver());
        doc.put("chosen", selection == null ? null : selection.chosen());
        doc.put("why", selection == null ? null : selection.why());
        doc.put("error", error);
        List<Map<String, Object>> drivers = new ArrayList<>();
        for (DriverSelector.Verdict v : verdicts) {
          Map<String, Object> d = new LinkedHashMap<>();
          d.put("name", v.name());
          d.put("priority", v.priority());
          d.put("usable", v.usable());
          d.put("hasState", v.hasState());
          d.put("refusal", v.refusal());
          d.put("reasons", v.reasons());
          drivers.add(d);
        }
        doc.put("drivers", drivers);
        Json.print(out, doc);
      } else {
        out.printf(
            "data-root: %s (%s)%nkernel: %s; uid %d%s%nprobed as %s%n%n",
            root,
            fs.backingName(),
            host.kernel().release(),
            Sys.geteuid(),
            host.inUserNamespace() ? ", in a user namespace" : "",
            probedAs(host));
        for (DriverSelector.Verdict v : verdicts) {
          out.printf(
              "%-16s %s%s%n",
              v.name(),
              v.usable() ? "usable" : "not usable: " + v.refusal(),
              v.hasState() ? " (holds layers in this data-root)" : "");
          for (String r : v.reasons()) {
            out.println("    " + r);
          }
        }
        out.println();
        if (selection != null) {
          out.println("chosen: " + selection.chosen() + " (" + selection.why() + ")");
        }
      }
      out.flush();
      if (error != null) {
        spec.commandLine().getErr().println("layerctl driver probe: " + error);
        spec.commandLine().getErr().flush();
        return NO_DRIVER;
      }
      return 0;
    }
  }
}
