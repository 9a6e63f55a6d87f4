package io.layerd.unpack.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Resolves an OCI image layout: index.json, then nested indexes, to one image manifest (chosen by
 * ref name and platform), its config and its layers. Every blob read is checked against its
 * descriptor's digest and size.
 */
final class OciLayout {
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
  static final String DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";

  /** Nested indexes deeper than this are refused (a real image has one or two levels). */
  private static final int MAX_DEPTH = 8;

  private final BlobStore store;
  private final String image;
  private final List<String> warnings = new ArrayList<>();

  /** The digests of the indexes on the current walk, to refuse a cycle. */
  private final Set<String> visited = new HashSet<>();

  private OciLayout(BlobStore store, String image) {
    this.store = store;
    this.image = image;
  }

  /** A manifest an index offers, and the ref name of the top-level entry it was reached from. */
  private record Candidate(Descriptor descriptor, Platform platform, String refName) {}

  static Plan plan(BlobStore store, String image, Platform wanted, String ref) throws IOException {
    return new OciLayout(store, image).plan(wanted, ref);
  }

  private Plan plan(Platform wanted, String ref) throws IOException {
    checkLayoutFile();
    BlobStore.Blob indexBlob = store.find("index.json");
    if (indexBlob == null) {
      throw new ImageException(image + " has no index.json: it is not an OCI image layout");
    }
    JsonNode index = ImageJson.read(store, indexBlob, null, -1, image + ": index.json").json();
    List<Descriptor> top = entries(index, image + ": index.json");
    List<Descriptor> chosen = chooseImage(top, ref);
    Descriptor first = chosen.get(0);
    String refName =
        first.refName() != null
            ? first.refName()
            : first.annotations().get(Descriptor.CONTAINERD_NAME);

    List<Candidate> candidates = new ArrayList<>();
    for (Descriptor d : chosen) {
      collect(d, d.platform(), refName, 0, candidates);
    }
    if (candidates.isEmpty()) {
      throw new ImageException(
          image
              + ": "
              + (refName == null ? "the index" : "'" + refName + "'")
              + " holds no image manifest (only artifacts or attestations)");
    }
    Candidate c = choosePlatform(candidates, wanted);
    return resolve(c);
  }

  private void checkLayoutFile() throws IOException {
    BlobStore.Blob layout = store.find("oci-layout");
    if (layout == null) {
      warnings.add("the layout has no oci-layout file; read as an OCI image layout all the same");
      return;
    }
    JsonNode j = ImageJson.read(store, layout, null, -1, image + ": oci-layout").json();
    String v = j.isObject() ? Descriptor.text(j, "imageLayoutVersion", "oci-layout", false) : null;
    if (v == null || !v.startsWith("1.")) {
      throw new ImageException(
          image + ": oci-layout states imageLayoutVersion " + v + "; layerd reads version 1.x");
    }
  }

  private static List<Descriptor> entries(JsonNode index, String what) throws ImageException {
    if (!index.isObject()) {
      throw new ImageException(what + " is not a JSON object");
    }
    JsonNode m = index.get("manifests");
    if (m == null || !m.isArray()) {
      throw new ImageException(what + " has no 'manifests' list: it is not an image index");
    }
    List<Descriptor> out = new ArrayList<>();
    for (JsonNode n : m) {
      out.add(Descriptor.parse(n, what + " entry " + (out.size() + 1)));
    }
    return out;
  }

  /**
   * The top-level entries of the image asked for, all sharing one name. An entry's name is
   * containerd's {@code io.containerd.image.name} when present (docker save writes the full name
   * there and only the tag as the ref name), else the OCI ref name; {@code ref} matches either.
   */
  private List<Descriptor> chooseImage(List<Descriptor> top, String ref) throws ImageException {
    Map<String, List<Descriptor>> byName = new LinkedHashMap<>();
    for (Descriptor d : top) {
      if (!skippable(d)) {
        byName.computeIfAbsent(nameOf(d), k -> new ArrayList<>()).add(d);
      }
    }
    if (byName.isEmpty()) {
      throw new ImageException(image + ": index.json lists no image");
    }
    if (ref == null) {
      if (byName.size() > 1) {
        throw new ImageException(
            image
                + " holds several images: "
                + describe(byName.keySet())
                + "; choose one by its name (--ref)");
      }
      return byName.values().iterator().next();
    }
    Map<String, List<Descriptor>> hits = new LinkedHashMap<>();
    byName.forEach(
        (name, ds) -> {
          Descriptor d = ds.get(0);
          if (ref.equals(d.refName())
              || ref.equals(d.annotations().get(Descriptor.CONTAINERD_NAME))) {
            hits.put(name, ds);
          }
        });
    if (hits.isEmpty()) {
      throw new ImageException(
          image + ": no image is named '" + ref + "'; it holds " + describe(byName.keySet()));
    }
    if (hits.size() > 1) {
      throw new ImageException(
          image
              + ": several images are named '"
              + ref
              + "': "
              + describe(hits.keySet())
              + "; give the full name");
    }
    return hits.values().iterator().next();
  }

  private static String nameOf(Descriptor d) {
    String containerd = d.annotations().get(Descriptor.CONTAINERD_NAME);
    if (containerd != null) {
      return containerd;
    }
    return d.refName() == null ? "(unnamed " + d.digest() + ")" : d.refName();
  }

  private static String describe(Set<String> names) {
    return names.stream()
        .map(n -> n.startsWith("(") ? n : "'" + n + "'")
        .collect(Collectors.joining(", "));
  }

  /** Attestations, signatures and other artifacts: not a filesystem to unpack. */
  private static boolean skippable(Descriptor d) {
    if (d.artifactType() != null) {
      return true;
    }
    if (d.annotations().containsKey("vnd.docker.reference.type")) {
      return true; // buildx attestation manifests
    }
    return d.platform() != null && d.platform().os().equals("unknown");
  }

  /** Adds the manifests a descriptor leads to (itself, or an index's entries, recursively). */
  private void collect(
      Descriptor d, Platform inherited, String refName, int depth, List<Candidate> out)
      throws IOException {
    Platform platform = d.platform() != null ? d.platform() : inherited;
    String type = d.mediaType();
    if (type == null || !(isIndex(type) || isManifest(type))) {
      if (type != null) {
        return; // an artifact of some other kind
      }
      // No media type on the descriptor: the document says what it is.
      JsonNode doc = readDescribed(d, "manifest " + d.digest()).json();
      String inner = doc.isObject() ? Descriptor.text(doc, "mediaType", d.digest(), false) : null;
      if ((inner != null && isIndex(inner)) || (inner == null && doc.has("manifests"))) {
        type = OCI_INDEX;
      } else {
        type = OCI_MANIFEST;
      }
    }
    if (isManifest(type)) {
      out.add(new Candidate(d, platform, refName));
      return;
    }
    if (depth >= MAX_DEPTH) {
      throw new ImageException(image + ": indexes nested deeper than " + MAX_DEPTH + " levels");
    }
    if (!visited.add(d.digest())) {
      throw new ImageException(image + ": index " + d.digest() + " includes itself");
    }
    String what = "index " + d.digest();
    JsonNode nested = readDescribed(d, what).json();
    for (Descriptor child : entries(nested, image + ": " + what)) {
      if (!skippable(child)) {
        collect(child, platform, refName, depth + 1, out);
      }
    }
    visited.remove(d.digest()); // only the indexes being walked: a shared one is fine, a cycle not
  }

  private static boolean isIndex(String type) {
    return type.equals(OCI_INDEX) || type.equals(DOCKER_LIST);
  }

  private static boolean isManifest(String type) {
    return type.equals(OCI_MANIFEST) || type.equals(DOCKER_MANIFEST);
  }

  private ImageJson.Doc readDescribed(Descriptor d, String what) throws IOException {
    BlobStore.Blob b = store.find(d.blobPath());
    if (b == null) {
      throw new ImageException(image + ": " + what + " is missing (no " + d.blobPath() + ")");
    }
    return ImageJson.read(store, b, d.digest(), d.size(), image + ": " + what);
  }

  private Candidate choosePlatform(List<Candidate> all, Platform wanted) throws IOException {
    List<Candidate> known = new ArrayList<>();
    for (Candidate c : all) {
      known.add(
          c.platform() != null ? c : new Candidate(c.descriptor(), configPlatform(c), c.refName()));
    }
    if (wanted == null && known.size() == 1) {
      Candidate only = known.get(0);
      Platform here = Platform.current();
      if (only.platform() != null && !here.matches(only.platform())) {
        warnings.add(
            "the image is for "
                + only.platform()
                + " only, not this machine's "
                + here
                + ": its files are unpacked all the same");
      }
      return only;
    }
    Platform target = wanted != null ? wanted : Platform.current();
    Candidate loose = null;
    for (Candidate c : known) {
      if (c.platform() == null || !target.matches(c.platform())) {
        continue;
      }
      if (target.matchesExactly(c.platform())) {
        return c;
      }
      if (loose == null) {
        loose = c;
      }
    }
    if (loose != null) {
      return loose;
    }
    List<String> offered = new ArrayList<>();
    for (Candidate c : known) {
      String p = c.platform() == null ? "(no platform given)" : c.platform().toString();
      if (!offered.contains(p)) {
        offered.add(p);
      }
    }
    throw new ImageException(
        image
            + ": no manifest for "
            + (wanted != null ? "the platform " + wanted : "this machine's platform " + target)
            + "; the image has "
            + String.join(", ", offered)
            + (wanted != null ? "" : " (choose one with --platform)"));
  }

  /** The platform of a manifest whose descriptor does not give one, read from its config. */
  private Platform configPlatform(Candidate c) throws IOException {
    JsonNode m = readDescribed(c.descriptor(), "manifest " + c.descriptor().digest()).json();
    Descriptor config = configOf(m, c.descriptor().digest());
    return ImageJson.platformOf(readDescribed(config, "config " + config.digest()).json());
  }

  private Descriptor configOf(JsonNode manifest, String digest) throws ImageException {
    String what = image + ": manifest " + digest;
    if (!manifest.isObject()) {
      throw new ImageException(what + " is not a JSON object");
    }
    String type = Descriptor.text(manifest, "mediaType", what, false);
    if (type != null && !isManifest(type)) {
      throw new ImageException(what + " has the media type " + type + ", not an image manifest");
    }
    Descriptor config = Descriptor.parse(manifest.get("config"), what + "'s config");
    if (config.mediaType() != null
        && !config.mediaType().equals(OCI_CONFIG)
        && !config.mediaType().equals(DOCKER_CONFIG)) {
      throw new ImageException(
          what + " is not a container image: its config has the media type " + config.mediaType());
    }
    return config;
  }

  private Plan resolve(Candidate c) throws IOException {
    Descriptor md = c.descriptor();
    JsonNode manifest = readDescribed(md, "manifest " + md.digest()).json();
    Descriptor configD = configOf(manifest, md.digest());
    JsonNode config = readDescribed(configD, "config " + configD.digest()).json();
    String what = image + ": config " + configD.digest();
    List<String> diffIds = ImageJson.diffIds(config, what);
    Platform platform = c.platform() != null ? c.platform() : ImageJson.platformOf(config);

    JsonNode ls = manifest.get("layers");
    if (ls == null || !ls.isArray()) {
      throw new ImageException(image + ": manifest " + md.digest() + " has no 'layers' list");
    }
    if (ls.size() != diffIds.size()) {
      throw new ImageException(
          image
              + ": manifest "
              + md.digest()
              + " lists "
              + ls.size()
              + " layers but its config has "
              + diffIds.size()
              + " diff_ids");
    }
    List<Plan.Layer> layers = new ArrayList<>();
    int count = ls.size();
    for (int i = 0; i < count; i++) {
      String label = (i + 1) + "/" + count;
      Descriptor d = Descriptor.parse(ls.get(i), image + ": layer " + label);
      String name = label + " " + d.digest();
      checkLayerType(d, name);
      BlobStore.Blob blob = store.find(d.blobPath());
      if (blob == null) {
        throw new ImageException(
            image
                + ": layer "
                + name
                + " is not in the image (no "
                + d.blobPath()
                + ")"
                + (d.hasUrls() ? ": a foreign layer, to be fetched from its URLs first" : ""));
      }
      if (blob.size() != d.size()) {
        throw new ImageException(
            image
                + ": layer "
                + name
                + ": size mismatch: the manifest says "
                + d.size()
                + " bytes but the blob has "
                + blob.size()
                + " (a corrupt or substituted layer)");
      }
      layers.add(new Plan.Layer(name, blob, d.digest(), diffIds.get(i)));
    }
    return new Plan(
        ImageResult.OCI_LAYOUT,
        c.refName(),
        platform,
        md.digest(),
        configD.digest(),
        layers,
        warnings);
  }

  private void checkLayerType(Descriptor d, String name) throws ImageException {
    String t = d.mediaType();
    if (t == null) {
      return;
    }
    boolean layer =
        t.startsWith("application/vnd.oci.image.layer.")
            || t.startsWith("application/vnd.docker.image.rootfs.");
    if (!layer || t.contains("encrypted")) {
      throw new ImageException(
          image
              + ": layer "
              + name
              + " has the media type "
              + t
              + ", not a filesystem layer"
              + (t.contains("encrypted") ? " layerd can read (it is encrypted)" : ""));
    }
  }
}
