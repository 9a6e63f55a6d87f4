package io.layerd.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.unpack.InvalidArchiveException;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarFile;
import org.apache.commons.compress.archivers.tar.TarUtils;
import org.apache.commons.compress.compressors.CompressorException;
import org.apache.commons.compress.compressors.CompressorStreamFactory;

/**
 * Reads the owners of a layer's or an image's entries without writing anything: the input for
 * {@code layerctl check-ids}. The API is deliberately narrow — open a path, name its layers, visit
 * each entry's (path, uid, gid) — so that its inside can later be replaced by the unpack module's
 * reader.
 *
 * <p>An input is one of:
 *
 * <ul>
 *   <li>a layer: a tar, plain or compressed with gzip, zstd, xz or bzip2 (recognised by magic
 *       bytes, never by name);
 *   <li>a {@code docker save} archive: a tar whose {@code manifest.json} lists layer paths;
 *   <li>an OCI image layout: a directory, or a tar of one, whose {@code index.json} leads to
 *       manifests and their layers (nested indexes followed; a layer shared by several manifests is
 *       read once);
 *   <li>a directory holding an unpacked {@code docker save} archive.
 * </ul>
 *
 * <p>A compressed image archive (such as {@code docker save | gzip}) is read as a single layer.
 */
final class LayerSource implements Closeable {
  /** Visits one entry. */
  @FunctionalInterface
  interface EntryVisitor {
    void entry(String layer, String path, long uid, long gid) throws IOException;
  }

  /** An opener of one layer's (possibly compressed) tar stream. */
  @FunctionalInterface
  private interface Opener {
    InputStream open() throws IOException;
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path input;
  private final String kind;
  private final Map<String, Opener> layers; // name -> opener, in order
  private final TarFile tar; // null unless the input is an image archive

  private LayerSource(Path input, String kind, Map<String, Opener> layers, TarFile tar) {
    this.input = input;
    this.kind = kind;
    this.layers = layers;
    this.tar = tar;
  }

  /** Opens a layer or an image; reads only indexes and manifests so far. */
  static LayerSource open(Path input) throws IOException {
    if (Files.isDirectory(input)) {
      return openDirectory(input);
    }
    if (!Files.isRegularFile(input)) {
      throw new NoSuchFileException(input.toString(), null, "no such layer or image");
    }
    String compression = compression(input);
    if (compression != null) {
      return single(input, "layer (" + (compression.equals("gz") ? "gzip" : compression) + ")");
    }
    try (InputStream in = new BufferedInputStream(Files.newInputStream(input))) {
      checkTarHeader(in, input.toString());
    }
    TarFile t;
    try {
      t = new TarFile(input);
    } catch (IOException e) {
      InvalidArchiveException bad =
          new InvalidArchiveException(
              input + ": not a tar archive, a compressed layer or an image: " + e.getMessage(), -1);
      bad.initCause(e);
      throw bad;
    }
    Map<String, TarArchiveEntry> members = new LinkedHashMap<>();
    for (TarArchiveEntry e : t.getEntries()) {
      members.put(clean(e.getName()), e);
    }
    try {
      if (members.containsKey("index.json") && members.containsKey("oci-layout")) {
        Map<String, Opener> l = new LinkedHashMap<>();
        for (String digest : ociLayers(name -> readMember(t, members, name))) {
          l.put(digest, () -> memberStream(t, members, blobPath(digest)));
        }
        return new LayerSource(input, "OCI image archive", l, t);
      }
      if (members.containsKey("manifest.json")) {
        JsonNode manifest = JSON.readTree(readMember(t, members, "manifest.json"));
        if (manifest.isArray()) {
          Map<String, Opener> l = new LinkedHashMap<>();
          for (String path : dockerLayerPaths(manifest)) {
            l.put(path, () -> memberStream(t, members, path));
          }
          return new LayerSource(input, "docker-save image", l, t);
        }
      }
    } catch (IOException | RuntimeException e) {
      t.close();
      throw e;
    }
    t.close();
    return single(input, "layer (tar)");
  }

  private static LayerSource single(Path input, String kind) {
    Map<String, Opener> l = new LinkedHashMap<>();
    l.put(input.getFileName().toString(), () -> new FileInputStream(input.toFile()));
    return new LayerSource(input, kind, l, null);
  }

  private static LayerSource openDirectory(Path dir) throws IOException {
    Map<String, Opener> l = new LinkedHashMap<>();
    if (Files.isRegularFile(dir.resolve("index.json"))) {
      for (String digest : ociLayers(name -> Files.readAllBytes(inside(dir, name)))) {
        l.put(digest, () -> new FileInputStream(inside(dir, blobPath(digest)).toFile()));
      }
      return new LayerSource(dir, "OCI image layout", l, null);
    }
    if (Files.isRegularFile(dir.resolve("manifest.json"))) {
      JsonNode manifest = JSON.readTree(Files.readAllBytes(dir.resolve("manifest.json")));
      for (String path : dockerLayerPaths(manifest)) {
        l.put(path, () -> new FileInputStream(inside(dir, path).toFile()));
      }
      return new LayerSource(dir, "docker-save directory", l, null);
    }
    throw new IOException(
        dir + " is a directory without index.json (OCI layout) or manifest.json (docker save)");
  }

  /** {@code dir/name}, refusing names that leave {@code dir}. */
  private static Path inside(Path dir, String name) throws IOException {
    Path p = dir.resolve(name).normalize();
    if (!p.startsWith(dir.normalize())) {
      throw new IOException("image member \"" + name + "\" points outside " + dir);
    }
    return p;
  }

  @FunctionalInterface
  private interface Reader {
    byte[] read(String name) throws IOException;
  }

  /** Follows index.json to the digests of every layer, in order, each once. */
  private static Set<String> ociLayers(Reader reader) throws IOException {
    JsonNode index = JSON.readTree(reader.read("index.json"));
    Set<String> out = new LinkedHashSet<>();
    walkIndex(reader, index, out, new LinkedHashSet<>(), 0);
    if (out.isEmpty()) {
      throw new IOException("the OCI index lists no image manifest with layers");
    }
    return out;
  }

  private static void walkIndex(
      Reader reader, JsonNode index, Set<String> out, Set<String> seen, int depth)
      throws IOException {
    if (depth > 8) {
      throw new IOException("OCI indexes nested more than 8 deep");
    }
    for (JsonNode m : index.path("manifests")) {
      String digest = m.path("digest").asText();
      if (digest.isEmpty() || !seen.add(digest)) {
        continue;
      }
      JsonNode doc = JSON.readTree(reader.read(blobPath(digest)));
      String type = m.path("mediaType").asText(doc.path("mediaType").asText());
      if (type.contains("index") || type.contains("manifest.list") || doc.has("manifests")) {
        walkIndex(reader, doc, out, seen, depth + 1);
      } else {
        for (JsonNode layer : doc.path("layers")) {
          String d = layer.path("digest").asText();
          if (!d.isEmpty()) {
            out.add(d);
          }
        }
      }
    }
  }

  /** {@code sha256:abc} -> {@code blobs/sha256/abc}. */
  private static String blobPath(String digest) throws IOException {
    int colon = digest.indexOf(':');
    if (colon <= 0 || digest.indexOf('/') >= 0 || digest.contains("..")) {
      throw new IOException("invalid digest \"" + digest + "\"");
    }
    return "blobs/" + digest.substring(0, colon) + "/" + digest.substring(colon + 1);
  }

  private static List<String> dockerLayerPaths(JsonNode manifest) throws IOException {
    Set<String> out = new LinkedHashSet<>();
    for (JsonNode image : manifest) {
      for (JsonNode l : image.path("Layers")) {
        out.add(clean(l.asText()));
      }
    }
    if (out.isEmpty()) {
      throw new IOException("manifest.json lists no layers");
    }
    return new ArrayList<>(out);
  }

  private static String clean(String name) {
    String n = name;
    while (n.startsWith("./")) {
      n = n.substring(2);
    }
    while (n.startsWith("/")) {
      n = n.substring(1);
    }
    return n.endsWith("/") ? n.substring(0, n.length() - 1) : n;
  }

  private static byte[] readMember(TarFile t, Map<String, TarArchiveEntry> members, String name)
      throws IOException {
    try (InputStream in = memberStream(t, members, name)) {
      return in.readAllBytes();
    }
  }

  /** A member's data, following symbolic and hard links inside the archive (old docker save). */
  private static InputStream memberStream(
      TarFile t, Map<String, TarArchiveEntry> members, String name) throws IOException {
    String n = clean(name);
    for (int hops = 0; hops < 16; hops++) {
      TarArchiveEntry e = members.get(n);
      if (e == null) {
        throw new NoSuchFileException(n, null, "not in the image archive");
      }
      if (e.isSymbolicLink()) {
        String target = e.getLinkName();
        int slash = n.lastIndexOf('/');
        n =
            Path.of(
                    target.startsWith("/")
                        ? target
                        : (slash < 0 ? "" : n.substring(0, slash + 1)) + target)
                .normalize()
                .toString();
        n = clean(n);
      } else if (e.isLink()) {
        n = clean(e.getLinkName());
      } else {
        return t.getInputStream(e);
      }
    }
    throw new IOException("too many links to \"" + name + "\" in the image archive");
  }

  /** "gzip", "zstd", "xz", "bzip2", or null for none, from the file's first bytes. */
  private static String compression(Path file) throws IOException {
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      return detect(in);
    }
  }

  private static String detect(InputStream markable) throws IOException {
    try {
      String name = CompressorStreamFactory.detect(markable);
      switch (name) {
        case CompressorStreamFactory.GZIP:
        case CompressorStreamFactory.ZSTANDARD:
        case CompressorStreamFactory.XZ:
        case CompressorStreamFactory.BZIP2:
          return name;
        default:
          throw new IOException("unsupported layer compression: " + name);
      }
    } catch (CompressorException e) {
      return null; // no compressor signature: a plain tar
    }
  }

  /** A tar stream over {@code raw}, decompressed when its magic bytes say so. */
  private static TarArchiveInputStream tarStream(InputStream raw) throws IOException {
    InputStream in = new BufferedInputStream(raw, 1 << 16);
    String c = detect(in);
    if (c != null) {
      try {
        in =
            new BufferedInputStream(
                new CompressorStreamFactory(true).createCompressorInputStream(c, in), 1 << 16);
      } catch (CompressorException e) {
        InvalidArchiveException bad =
            new InvalidArchiveException("cannot decompress (" + c + "): " + e.getMessage(), -1);
        bad.initCause(e);
        throw bad;
      }
    }
    checkTarHeader(in, c == null ? "the layer" : "the decompressed layer");
    return new TarArchiveInputStream(in);
  }

  /**
   * Fails unless the stream (which must support mark) opens with a tar header whose checksum is
   * right, or with an all-zero block (an empty archive): commons-compress reads garbage as an empty
   * archive.
   */
  private static void checkTarHeader(InputStream in, String what) throws IOException {
    byte[] block = new byte[512];
    in.mark(block.length);
    int n = in.readNBytes(block, 0, block.length);
    in.reset();
    boolean zero = true;
    for (int i = 0; i < n; i++) {
      zero &= block[i] == 0;
    }
    if (n == 0 || (n == block.length && zero)) {
      return;
    }
    if (n < block.length || !TarUtils.verifyCheckSum(block)) {
      throw new InvalidArchiveException(
          what + " is not a tar archive (no valid tar header at its start)", -1);
    }
  }

  /** What the input is: "layer (gzip)", "docker-save image", "OCI image layout", ... */
  String kind() {
    return kind;
  }

  Path input() {
    return input;
  }

  /** The layers in apply order: file name, docker-save path or digest. */
  List<String> layerNames() {
    return List.copyOf(layers.keySet());
  }

  /** Visits every entry of every layer, in order; returns the number of entries. */
  long forEachEntry(EntryVisitor visitor) throws IOException {
    long n = 0;
    for (Map.Entry<String, Opener> l : layers.entrySet()) {
      try (TarArchiveInputStream tin = tarStream(l.getValue().open())) {
        TarArchiveEntry e;
        while ((e = tin.getNextEntry()) != null) {
          String path = clean(e.getName());
          visitor.entry(
              l.getKey(), path.isEmpty() ? "." : path, e.getLongUserId(), e.getLongGroupId());
          n++;
        }
      } catch (IOException e) {
        throw new IOException("layer " + l.getKey() + " of " + input + ": " + e.getMessage(), e);
      }
    }
    return n;
  }

  @Override
  public void close() throws IOException {
    if (tar != null) {
      tar.close();
    }
  }
}
