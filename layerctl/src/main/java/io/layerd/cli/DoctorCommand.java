package io.layerd.cli;

import io.layerd.idmap.internal.CheckStatus;
import io.layerd.idmap.internal.Doctor;
import io.layerd.idmap.internal.DoctorCheck;
import io.layerd.idmap.internal.DoctorReport;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code layerctl doctor}: every rootless prerequisite with pass/warn/fail and its remedy. */
@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description = {
      "Check every prerequisite of rootless operation: subordinate ids in /etc/subuid and"
          + " /etc/subgid, newuidmap/newgidmap, the kernel's user-namespace switches, AppArmor,"
          + " XDG_RUNTIME_DIR, and whether a user namespace can really be entered.",
      "Each check says pass, warn or fail, and a failure says what to do about it."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl doctor                  # exit 5 when a prerequisite is missing",
      "  sudo layerctl doctor --user alice --json"
    })
final class DoctorCommand implements Callable<Integer> {
  /** Exit status when a prerequisite is missing. */
  static final int MISSING = ExitCode.ENVIRONMENT;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--json", description = "Print a JSON document instead of text.")
  boolean json;

  @Option(
      names = "--user",
      paramLabel = "NAME",
      description =
          "Check another user's subordinate ids (as root, before handing over the machine);"
              + " leaves out the checks that are about this process.")
  String user;

  @Override
  public Integer call() throws Exception {
    Doctor doctor = new Doctor(Doctor.Environment.system());
    DoctorReport r = user == null ? doctor.check() : doctor.check(user);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("user", Json.user(r.user()));
      doc.put("ok", r.ok());
      List<Map<String, Object>> checks = new ArrayList<>();
      for (DoctorCheck c : r.checks()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("status", c.status().name().toLowerCase(java.util.Locale.ROOT));
        m.put("detail", c.detail());
        if (c.status() != CheckStatus.PASS) {
          m.put("remedy", c.remedy());
        }
        checks.add(m);
      }
      doc.put("checks", checks);
      Json.print(out, doc);
    } else {
      out.print(r.toText());
    }
    out.flush();
    return r.ok() ? 0 : MISSING;
  }
}
