package io.layerd.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdRange;
import io.layerd.idmap.Problems;
import io.layerd.idmap.RangeOrigin;
import io.layerd.idmap.SubIdRange;
import io.layerd.idmap.UserAccount;
import io.layerd.unpack.ApplyResult;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The JSON the commands write: one way to print a document, and the shapes the id commands share
 * (maps, so that the key names are written down here).
 */
final class Json {
  private Json() {}

  private static final ObjectMapper MAPPER =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Prints {@code doc} (maps, lists and plain values) as indented JSON, then a newline. */
  static void print(PrintWriter out, Object doc) throws JsonProcessingException {
    out.println(MAPPER.writeValueAsString(doc));
  }

  static Map<String, Object> user(UserAccount u) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", u.name());
    m.put("uid", u.uid());
    m.put("gid", u.gid());
    return m;
  }

  /** What applying a layer did, flat: the keys of {@code unpack --json}'s "layers". */
  static Map<String, Object> layer(ApplyResult r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("layer", r.layer());
    m.put("compression", r.digests().compression());
    m.put("entries", r.counts().entries());
    m.put("compressedSize", r.digests().compressedSize());
    m.put("uncompressedSize", r.digests().uncompressedSize());
    m.put("digest", r.digests().digest());
    m.put("diffId", r.digests().diffId());
    m.put("files", r.counts().files());
    m.put("fileBytes", r.counts().fileBytes());
    m.put("directories", r.counts().directories());
    m.put("symlinks", r.counts().symlinks());
    m.put("hardlinks", r.counts().hardlinks());
    m.put("whiteouts", r.counts().whiteouts());
    m.put("skippedDevices", r.skipped().devices());
    m.put("refusedXattrs", r.skipped().xattrs());
    m.put("keptOwners", r.skipped().owners());
    m.put("warnings", r.warnings());
    return m;
  }

  static Map<String, Object> range(SubIdRange r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("owner", r.owner());
    m.put("start", r.start());
    m.put("count", r.count());
    m.put("file", r.source() == null ? null : r.source().toString());
    m.put("line", r.line());
    return m;
  }

  static Map<String, Object> range(IdRange r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("containerId", r.containerId());
    m.put("hostId", r.hostId());
    m.put("size", r.size());
    return m;
  }

  /** The ranges of a mapping, each with its origin when known. */
  static List<Map<String, Object>> mapping(IdMapping mapping, List<RangeOrigin> origins) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < mapping.ranges().size(); i++) {
      Map<String, Object> m = range(mapping.ranges().get(i));
      if (origins != null && i < origins.size()) {
        m.put("origin", origins.get(i).description());
      }
      out.add(m);
    }
    return out;
  }

  static List<Map<String, Object>> problems(Problems p) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Problems.Problem x : p.all()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("severity", x.severity().name().toLowerCase(Locale.ROOT));
      m.put("file", x.file() == null ? null : x.file().toString());
      m.put("line", x.line());
      m.put("message", x.message());
      out.add(m);
    }
    return out;
  }
}
