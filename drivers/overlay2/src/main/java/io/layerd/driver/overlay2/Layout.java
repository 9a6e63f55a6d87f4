package io.layerd.driver.overlay2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * The driver's files under its home ({@code <data-root>/overlay2}):
 *
 * <pre>
 * l/LINK            -> ../ID/diff   short links: 20 random base32 characters each
 * .empty/           the empty lower directory of layers without a parent
 * .xattr-namespace  "trusted.overlay" or "user.overlay": the markers this home's layers hold
 * ID/diff/          the layer's own changes: the upper directory when it is mounted read-write,
 *                   a lower directory of its children (and of itself when read-only)
 * ID/work/          overlay's work directory (same filesystem as diff/)
 * ID/merged/        kept for moby's layout; the engine mounts at its own mnt/ID
 * ID/link           LINK, the layer's short link name
 * ID/lower          "l/P:l/G:...": the short links of the parent chain, nearest first
 *                   (absent for a layer without a parent)
 * .staging-*, .removing-*, .overlay2-probe-*   half-made, half-removed and probe directories,
 *                   removed when the driver opens
 * </pre>
 *
 * A layer's directory is named by its id, as in moby, except that an id which could clash with the
 * driver's own names ({@code l}, and any id starting with a dot) is written {@code %ID}: layer ids
 * never hold a {@code %} ({@code LayerIds}), so the naming is one-to-one and every id layerd
 * accepts is a valid overlay2 layer.
 */
final class Layout {
  static final String LINKS = "l";
  static final String EMPTY = ".empty";
  static final String XATTR_NAMESPACE = ".xattr-namespace";
  static final String DIFF = "diff";
  static final String WORK = "work";
  static final String MERGED = "merged";
  static final String LINK = "link";
  static final String LOWER = "lower";
  static final String STAGING_PREFIX = ".staging-";
  static final String REMOVING_PREFIX = ".removing-";
  static final String PROBE_PREFIX = ".overlay2-probe-";
  static final String ESCAPE = "%";

  private static final char[] BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path home;

  Layout(Path home) {
    this.home = home;
  }

  Path home() {
    return home;
  }

  Path links() {
    return home.resolve(LINKS);
  }

  Path layer(String id) {
    return home.resolve(dirName(id));
  }

  Path diff(String id) {
    return layer(id).resolve(DIFF);
  }

  Path work(String id) {
    return layer(id).resolve(WORK);
  }

  /** The name of a layer's directory in the home: the id, or {@code %ID} for "l" and ".*". */
  static String dirName(String id) {
    if (id.isEmpty() || id.contains("/") || id.contains("%")) {
      throw new IllegalArgumentException("not a layer id: '" + id + "'");
    }
    return id.equals(LINKS) || id.startsWith(".") ? ESCAPE + id : id;
  }

  /** The id of a layer directory's name ({@link #dirName} reversed). */
  static String idOfDirName(String name) {
    return name.startsWith(ESCAPE) ? name.substring(ESCAPE.length()) : name;
  }

  boolean exists(String id) {
    return Files.isDirectory(layer(id).resolve(DIFF), LinkOption.NOFOLLOW_LINKS);
  }

  /** A new short link name: {@value MountData#LINK_LENGTH} random base32 characters. */
  static String newLink() {
    char[] c = new char[MountData.LINK_LENGTH];
    for (int i = 0; i < c.length; i++) {
      c[i] = BASE32[RANDOM.nextInt(BASE32.length)];
    }
    return new String(c);
  }

  /** True for a name a short link can have. */
  static boolean isLinkName(String s) {
    if (s.length() != MountData.LINK_LENGTH) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7'))) {
        return false;
      }
    }
    return true;
  }

  /** The layer's short link name (its {@code link} file). */
  String link(String id) throws IOException {
    String s = read(layer(id).resolve(LINK));
    if (!isLinkName(s)) {
      throw new IOException(
          "the overlay2 layer "
              + id
              + " has a damaged link file ("
              + layer(id).resolve(LINK)
              + ")");
    }
    return s;
  }

  /** The short links of the layer's parent chain, nearest parent first; empty for a base layer. */
  List<String> lowerLinks(String id) throws IOException {
    Path f = layer(id).resolve(LOWER);
    String s;
    try {
      s = read(f);
    } catch (NoSuchFileException e) {
      if (!exists(id)) {
        throw new NoSuchFileException("overlay2 layer " + id + " does not exist");
      }
      return List.of();
    }
    return parseLower(s, f);
  }

  /** Parses a {@code lower} file: "l/A:l/B". */
  static List<String> parseLower(String s, Path where) throws IOException {
    List<String> out = new ArrayList<>();
    for (String part : s.split(":", -1)) {
      String name = part.startsWith(LINKS + "/") ? part.substring(LINKS.length() + 1) : "";
      if (!isLinkName(name)) {
        throw new IOException("damaged lower file " + where + ": '" + part + "' is not l/LINK");
      }
      out.add(name);
    }
    return out;
  }

  /** The text of a {@code lower} file for these links. */
  static String formatLower(List<String> links) {
    List<String> parts = new ArrayList<>();
    for (String l : links) {
      parts.add(LINKS + "/" + l);
    }
    return String.join(":", parts);
  }

  /** The id a short link points at ({@code l/LINK -> ../ID/diff}). */
  String idOfLink(String link) throws IOException {
    Path target = Files.readSymbolicLink(links().resolve(link));
    // "../ID/diff"
    if (target.getNameCount() != 3
        || !target.getName(0).toString().equals("..")
        || !target.getName(2).toString().equals(DIFF)) {
      throw new IOException(
          "the short link " + links().resolve(link) + " points at " + target + ", not ../ID/diff");
    }
    return idOfDirName(target.getName(1).toString());
  }

  /** The layer's parent id, or null for a base layer. */
  String parentOf(String id) throws IOException {
    List<String> lowers = lowerLinks(id);
    return lowers.isEmpty() ? null : idOfLink(lowers.get(0));
  }

  /** The diff directories of the parent chain, nearest first. */
  List<Path> lowerDiffs(String id) throws IOException {
    List<Path> out = new ArrayList<>();
    for (String l : lowerLinks(id)) {
      out.add(diff(idOfLink(l)));
    }
    return out;
  }

  static String read(Path p) throws IOException {
    return Files.readString(p, StandardCharsets.UTF_8).strip();
  }
}
