package io.layerd.unpack.image;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves a {@code docker save} archive: manifest.json names, per image, its config and its layer
 * files by path. The paths come from the archive and are refused unless they stay inside it. Each
 * layer is checked against the config's diff_ids, and against its digest when its path carries one
 * ({@code blobs/sha256/HEX}, as newer docker-save writes).
 */
final class DockerSave {
  private DockerSave() {}

  /** A path that names its content's sha256: {@code HEX.json} or {@code blobs/sha256/HEX}. */
  private static final Pattern DIGEST_NAMED =
      Pattern.compile("(?:blobs/sha256/([a-f0-9]{64}))|(?:([a-f0-9]{64})\\.json)");

  static Plan plan(BlobStore store, String image, Platform wanted, String ref) throws IOException {
    List<String> warnings = new ArrayList<>();
    BlobStore.Blob mf = store.find("manifest.json");
    if (mf == null) {
      throw new ImageException(image + " has no manifest.json: it is not a docker-save archive");
    }
    JsonNode manifest = ImageJson.read(store, mf, null, -1, image + ": manifest.json").json();
    if (!manifest.isArray() || manifest.isEmpty()) {
      throw new ImageException(image + ": manifest.json is not a non-empty list of images");
    }
    JsonNode entry = choose(manifest, image, ref);
    String refName = ref;
    if (refName == null) {
      List<String> tags = tags(entry);
      refName = tags.isEmpty() ? null : tags.get(0);
    }

    String configPath =
        ImagePaths.clean(
            Descriptor.text(entry, "Config", image + ": manifest.json", true),
            image + ": the Config path in manifest.json");
    BlobStore.Blob configBlob = store.find(configPath);
    if (configBlob == null) {
      throw new ImageException(image + ": the config " + configPath + " is not in the archive");
    }
    String configDigest = digestNamedBy(configPath);
    JsonNode config =
        ImageJson.read(store, configBlob, configDigest, -1, image + ": config " + configPath)
            .json();
    List<String> diffIds = ImageJson.diffIds(config, image + ": config " + configPath);
    Platform platform = ImageJson.platformOf(config);
    if (wanted != null && (platform == null || !wanted.matches(platform))) {
      throw new ImageException(
          image
              + ": no manifest for the platform "
              + wanted
              + "; the image has "
              + (platform == null ? "(no platform given)" : platform.toString())
              + " (a docker-save image holds one platform)");
    }
    if (wanted == null && platform != null && !Platform.current().matches(platform)) {
      warnings.add(
          "the image is for "
              + platform
              + " only, not this machine's "
              + Platform.current()
              + ": its files are unpacked all the same");
    }

    JsonNode ls = entry.get("Layers");
    if (ls == null || !ls.isArray()) {
      throw new ImageException(image + ": manifest.json has no 'Layers' list");
    }
    if (ls.size() != diffIds.size()) {
      throw new ImageException(
          image
              + ": manifest.json lists "
              + ls.size()
              + " layers but the config has "
              + diffIds.size()
              + " diff_ids");
    }
    JsonNode sources = entry.get("LayerSources");
    List<Plan.Layer> layers = new ArrayList<>();
    int count = ls.size();
    for (int i = 0; i < count; i++) {
      String label = (i + 1) + "/" + count;
      JsonNode p = ls.get(i);
      if (!p.isTextual()) {
        throw new ImageException(image + ": layer " + label + " in manifest.json is not a path");
      }
      String path = ImagePaths.clean(p.asText(), image + ": the path of layer " + label);
      String name = label + " " + path;
      BlobStore.Blob blob = store.find(path);
      if (blob == null) {
        boolean foreign = sources != null && sources.isObject() && sources.has(diffIds.get(i));
        throw new ImageException(
            image
                + ": layer "
                + name
                + " is not in the archive"
                + (foreign ? " (a foreign layer, listed in LayerSources)" : ""));
      }
      layers.add(new Plan.Layer(name, blob, digestNamedBy(path), diffIds.get(i)));
    }
    return new Plan(
        ImageResult.DOCKER_SAVE, refName, platform, null, configDigest, layers, warnings);
  }

  private static JsonNode choose(JsonNode manifest, String image, String ref)
      throws ImageException {
    List<String> all = new ArrayList<>();
    JsonNode hit = null;
    int hits = 0;
    for (JsonNode e : manifest) {
      if (!e.isObject()) {
        throw new ImageException(image + ": manifest.json holds an entry that is not an object");
      }
      List<String> tags = tags(e);
      all.add(
          tags.isEmpty() ? "(untagged " + e.path("Config").asText() + ")" : String.join(" ", tags));
      if (ref != null && (tags.contains(ref) || tags.contains(ref + ":latest"))) {
        hit = e;
        hits++;
      }
    }
    if (ref == null) {
      if (manifest.size() == 1) {
        return manifest.get(0);
      }
      throw new ImageException(
          image + " holds several images: " + String.join(", ", all) + "; choose one (--ref)");
    }
    if (hits == 0) {
      throw new ImageException(
          image + ": no image is tagged '" + ref + "'; it holds " + String.join(", ", all));
    }
    if (hits > 1) {
      throw new ImageException(image + ": several images are tagged '" + ref + "'");
    }
    return hit;
  }

  private static List<String> tags(JsonNode entry) {
    List<String> out = new ArrayList<>();
    JsonNode t = entry.get("RepoTags");
    if (t != null && t.isArray()) {
      for (JsonNode n : t) {
        if (n.isTextual()) {
          out.add(n.asText());
        }
      }
    }
    return out;
  }

  /** The digest a clean path names by its form, or null. */
  static String digestNamedBy(String path) {
    Matcher m = DIGEST_NAMED.matcher(path);
    if (!m.matches()) {
      return null;
    }
    return "sha256:" + (m.group(1) != null ? m.group(1) : m.group(2));
  }
}
