package io.layerd.cli;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.internal.EffectiveMapping;
import io.layerd.sys.Names;
import io.layerd.unpack.image.ImageReader;
import io.layerd.unpack.image.Platform;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code layerctl check-ids}: reads layers without writing anything and says whether every owner
 * they need fits the id mapping layers would be applied under.
 */
@Command(
    name = "check-ids",
    mixinStandardHelpOptions = true,
    description = {
      "Read layers or images without writing anything and report the highest uid and gid their"
          + " entries need, the entries whose uid or gid is outside the mapping layers would be"
          + " applied under (see `layerctl idmap show`), and how many subordinate ids would"
          + " suffice, with the usermod command that adds them.",
      "LAYER is a tar, plain or compressed with gzip, zstd, xz or bzip2; IMAGE is a docker-save"
          + " archive, an OCI image layout directory or an OCI image archive, of which the layers"
          + " `layerctl image unpack` would apply are read."
    },
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl check-ids image.tar           # exit 3 when some owner does not fit",
      "  layerctl check-ids --json layer.tar.gz",
      "  sudo layerctl check-ids --user alice oci-layout-dir"
    })
final class CheckIdsCommand implements Callable<Integer> {
  /** Exit status when some entry needs an id outside the mapping. */
  static final int DOES_NOT_FIT = ExitCode.UNMAPPED_ID;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--json", description = "Print a JSON document instead of text.")
  boolean json;

  @Option(
      names = "--user",
      paramLabel = "NAME",
      description =
          "Check against the rootless layout of this user's subordinate ids instead of the"
              + " mapping layerctl itself would use.")
  String user;

  @Option(
      names = "--max-listed",
      paramLabel = "N",
      defaultValue = "50",
      description = "List at most N entries that do not fit (default: ${DEFAULT-VALUE}).")
  int maxListed;

  @Mixin ImageChoice choice;

  @Parameters(arity = "1..*", paramLabel = "LAYER|IMAGE", description = "Layers or images.")
  List<Path> inputs;

  /** The highest id of one kind and the entry that needs it. */
  private static final class Highest {
    long id = -1;
    String input;
    String layer;
    String path;

    void offer(long v, String input, String layer, String path) {
      if (v > id) {
        id = v;
        this.input = input;
        this.layer = layer;
        this.path = path;
      }
    }

    Map<String, Object> json() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", id < 0 ? null : id);
      m.put("input", input);
      m.put("layer", layer);
      m.put("path", path);
      return m;
    }
  }

  @Override
  public Integer call() throws Exception {
    EffectiveMapping eff =
        user != null
            ? EffectiveMapping.forUser(user)
            : EffectiveMapping.resolve(RootlessHook.mode(spec));
    IdMappings maps = eff.mappings();
    Highest uid = new Highest();
    Highest gid = new Highest();
    List<Map<String, Object>> outside = new ArrayList<>();
    long[] outsideTotal = {0};
    long total = 0;
    List<Map<String, Object>> inputDocs = new ArrayList<>();
    Platform platform = choice.platform();
    for (Path in : inputs) {
      Inputs.requireReadable("input", in);
    }
    for (Path in : inputs) {
      try (ImageReader src = ImageReader.open(in, platform, choice.ref)) {
        Map<String, Map<String, Object>> layerDocs = new LinkedHashMap<>();
        for (String name : src.layerNames()) {
          Map<String, Object> l = new LinkedHashMap<>();
          l.put("name", name);
          l.put("entries", 0L);
          l.put("highestUid", -1L);
          l.put("highestGid", -1L);
          l.put("outside", 0L);
          layerDocs.put(name, l);
        }
        String input = in.toString();
        total +=
            src.forEachEntry(
                (layer, entry) -> {
                  String path = path(entry.name());
                  long u = entry.uid();
                  long g = entry.gid();
                  Map<String, Object> l = layerDocs.get(layer);
                  l.merge("entries", 1L, (a, b) -> (Long) a + (Long) b);
                  l.merge("highestUid", u, (a, b) -> Math.max((Long) a, (Long) b));
                  l.merge("highestGid", g, (a, b) -> Math.max((Long) a, (Long) b));
                  uid.offer(u, input, layer, path);
                  gid.offer(g, input, layer, path);
                  boolean uo = !maps.uids().isMapped(u);
                  boolean go = !maps.gids().isMapped(g);
                  if (uo || go) {
                    l.merge("outside", 1L, (a, b) -> (Long) a + (Long) b);
                    if (outsideTotal[0]++ < maxListed) {
                      Map<String, Object> e = new LinkedHashMap<>();
                      e.put("input", input);
                      e.put("layer", layer);
                      e.put("path", path);
                      e.put("uid", u);
                      e.put("gid", g);
                      e.put("uidMapped", !uo);
                      e.put("gidMapped", !go);
                      outside.add(e);
                    }
                  }
                });
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("path", input);
        d.put("kind", src.kind());
        d.put("layers", new ArrayList<>(layerDocs.values()));
        inputDocs.add(d);
      }
    }
    boolean fits = outsideTotal[0] == 0;
    Optional<SubordinateIds> ids = eff.subIds();
    // Both kinds, each enough for the highest id of either (as the unpack error suggests): images
    // use the same numbers for users and their groups.
    long both = Math.max(uid.id, gid.id);
    Optional<String> remedy =
        fits || ids.isEmpty() ? Optional.empty() : ids.get().usermodCommand(both, both);
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("inputs", inputDocs);
      Map<String, Object> mapping = new LinkedHashMap<>();
      mapping.put("source", eff.source());
      for (IdKind k : IdKind.values()) {
        mapping.put(k.label() + "s", Json.mapping(maps.get(k), null));
      }
      doc.put("mapping", mapping);
      doc.put("entries", total);
      doc.put("highestUid", uid.json());
      doc.put("highestGid", gid.json());
      doc.put("fits", fits);
      doc.put("outsideTotal", outsideTotal[0]);
      doc.put("outside", outside);
      if (ids.isPresent()) {
        Map<String, Object> sub = new LinkedHashMap<>();
        sub.put("user", ids.get().user().name());
        for (IdKind k : IdKind.values()) {
          long highest = k == IdKind.UID ? uid.id : gid.id;
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("have", ids.get().count(k));
          m.put("needed", Math.max(highest, 0));
          sub.put(k.label() + "s", m);
        }
        doc.put("subordinateIds", sub);
      }
      doc.put("remedy", remedy.orElse(null));
      Json.print(out, doc);
    } else {
      for (Map<String, Object> d : inputDocs) {
        @SuppressWarnings("unchecked")
        List<Object> layers = (List<Object>) d.get("layers");
        out.println(d.get("path") + ": " + d.get("kind") + ", " + n(layers.size(), "layer"));
      }
      out.println("mapping: " + eff.source());
      for (IdKind k : IdKind.values()) {
        out.println("  " + k.label() + "s " + maps.get(k).describeContainerIds());
      }
      out.println(n(total, "entry") + " read");
      highest(out, "uid", uid);
      highest(out, "gid", gid);
      if (fits) {
        out.println("fits: every owner is within the mapping");
      } else {
        out.println(
            "does not fit: "
                + n(outsideTotal[0], "entry")
                + (outsideTotal[0] == 1 ? " needs" : " need")
                + " ids outside the mapping"
                + (outsideTotal[0] > outside.size() ? " (first " + outside.size() + " listed)" : "")
                + ":");
        for (Map<String, Object> e : outside) {
          out.println(
              "  "
                  + e.get("layer")
                  + ": "
                  + e.get("path")
                  + " "
                  + (Boolean.TRUE.equals(e.get("uidMapped")) ? "" : "uid " + e.get("uid") + " ")
                  + (Boolean.TRUE.equals(e.get("gidMapped")) ? "" : "gid " + e.get("gid")));
        }
      }
      if (ids.isPresent()) {
        SubordinateIds s = ids.get();
        out.println(
            "subordinate ids that would suffice (rootless layout): "
                + String.format(
                    Locale.ROOT,
                    "%,d uids (%s has %,d), %,d gids (has %,d)",
                    Math.max(uid.id, 0),
                    s.user().name(),
                    s.count(IdKind.UID),
                    Math.max(gid.id, 0),
                    s.count(IdKind.GID)));
      }
      if (remedy.isPresent()) {
        out.println(
            "fix: "
                + remedy.get()
                + ", then run layerctl again (a layerd or rootless dockerd already running needs a"
                + " restart to map them)");
      } else if (!fits && ids.isPresent()) {
        out.println(
            "fix: "
                + ids.get().user().name()
                + " has enough subordinate ids, but this namespace maps fewer: restart layerd so"
                + " that it enters its own namespace with all of them");
      }
    }
    out.flush();
    return fits ? 0 : DOES_NOT_FIT;
  }

  /** An entry's name as listed: without "./", leading or trailing slashes; "." for the root. */
  static String path(byte[] name) {
    String n = Names.display(name);
    while (n.startsWith("./")) {
      n = n.substring(2);
    }
    while (n.startsWith("/")) {
      n = n.substring(1);
    }
    while (n.endsWith("/")) {
      n = n.substring(0, n.length() - 1);
    }
    return n.isEmpty() ? "." : n;
  }

  private static void highest(PrintWriter out, String label, Highest h) {
    out.println(
        "highest "
            + label
            + ": "
            + (h.id < 0 ? "none (no entries)" : h.id + " (" + h.layer + ": " + h.path + ")"));
  }

  private static String n(long count, String word) {
    return String.format(Locale.ROOT, "%,d ", count)
        + (count == 1
            ? word
            : word.endsWith("y") ? word.substring(0, word.length() - 1) + "ies" : word + "s");
  }
}
