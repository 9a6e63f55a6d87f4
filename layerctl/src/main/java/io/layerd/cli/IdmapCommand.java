package io.layerd.cli;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.RangeOrigin;
import io.layerd.idmap.SubIdFile;
import io.layerd.idmap.SubIdRange;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UserAccount;
import io.layerd.idmap.internal.EffectiveMapping;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code layerctl idmap}: the user's subordinate ranges and the mapping layers are applied under.
 */
@Command(
    name = "idmap",
    mixinStandardHelpOptions = true,
    footerHeading = "%nExamples:%n",
    footer = {"  layerctl idmap show", "  layerctl idmap show --user alice --json"},
    description = "Show id mappings.",
    subcommands = {IdmapCommand.Show.class})
final class IdmapCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** {@code layerctl idmap show [--json] [--user NAME]}. */
  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      footerHeading = "%nExamples:%n",
      footer = {"  layerctl idmap show", "  layerctl idmap show --user alice --json"},
      description = {
        "Show the user's subordinate ranges (/etc/subuid, /etc/subgid, with file and line), any"
            + " malformed or overlapping lines, this process's own mapping, and the effective"
            + " mapping layers are applied under: the namespace's when inside one, every id for"
            + " root, else the rootless layout layerctl and layerd enter (the user's own id as"
            + " container 0, then every subordinate range in file order)."
      })
  static final class Show implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print a JSON document instead of text.")
    boolean json;

    @Option(
        names = "--user",
        paramLabel = "NAME",
        description = "Show another user's ranges and rootless layout.")
    String user;

    @Override
    public Integer call() throws Exception {
      IdMappings current = IdMappings.current();
      EffectiveMapping eff =
          user != null
              ? EffectiveMapping.forUser(user)
              : EffectiveMapping.resolve(RootlessHook.mode(spec));
      SubordinateIds ids =
          eff.subIds()
              .orElse(
                  user == null
                      ? SubordinateIds.load(UserAccount.current())
                      : SubordinateIds.load(UserAccount.byName(user).orElseThrow()));
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("user", Json.user(ids.user()));
        for (IdKind k : IdKind.values()) {
          SubIdFile f = ids.file(k);
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("file", f.path().toString());
          m.put("present", f.present());
          List<Map<String, Object>> ranges = new ArrayList<>();
          for (SubIdRange r : ids.ranges(k)) {
            ranges.add(Json.range(r));
          }
          m.put("ranges", ranges);
          m.put("count", ids.count(k));
          doc.put(k.subLabel(), m);
        }
        doc.put("problems", Json.problems(ids.problems()));
        doc.put("inUserNamespace", !current.uids().isIdentity());
        doc.put("current", mappings(current, ids));
        Map<String, Object> e = mappings(eff.mappings(), ids);
        e.put("source", eff.source());
        doc.put("effective", e);
        Json.print(out, doc);
      } else {
        text(out, current, eff, ids);
      }
      out.flush();
      return 0;
    }

    private static Map<String, Object> mappings(IdMappings maps, SubordinateIds ids) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (IdKind k : IdKind.values()) {
        IdMapping map = maps.get(k);
        m.put(k.label() + "s", Json.mapping(map, ids.explain(k, map)));
      }
      return m;
    }

    private static void text(
        PrintWriter out, IdMappings current, EffectiveMapping eff, SubordinateIds ids) {
      out.println("user: " + ids.user());
      for (IdKind k : IdKind.values()) {
        SubIdFile f = ids.file(k);
        List<SubIdRange> ranges = ids.ranges(k);
        out.println(
            f.path()
                + ": "
                + (!f.present()
                    ? "does not exist"
                    : ranges.isEmpty()
                        ? "no ranges for this user"
                        : String.format(Locale.ROOT, "%,d %ss", ids.count(k), k.label())));
        for (SubIdRange r : ranges) {
          out.println("  " + r.where() + "  " + r.entry());
        }
      }
      if (!ids.problems().isEmpty()) {
        out.println("problems:");
        for (var p : ids.problems().all()) {
          out.println("  " + p);
        }
      }
      out.println(
          "this process: "
              + (current.uids().isIdentity()
                  ? "the initial namespace (uid_map 0 0 4294967295)"
                  : "inside a user namespace"));
      if (!current.uids().isIdentity()) {
        ranges(out, current, ids);
      }
      out.println("effective mapping: " + eff.source());
      ranges(out, eff.mappings(), ids);
    }

    private static void ranges(PrintWriter out, IdMappings maps, SubordinateIds ids) {
      for (IdKind k : IdKind.values()) {
        IdMapping m = maps.get(k);
        out.println("  " + k.label() + "s " + m.describeContainerIds());
        if (m.isIdentity()) {
          continue;
        }
        for (RangeOrigin o : ids.explain(k, m)) {
          out.println("    " + o);
        }
      }
    }
  }
}
