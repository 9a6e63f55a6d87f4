package io.layerd.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.layerd.testkit.TarBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The image the end-to-end suites load: a {@code docker save} archive (dockerd 20.10 cannot load an
 * OCI layout) made of three layers.
 *
 * <ol>
 *   <li>BusyBox 1.38.0 (glibc), the real layer from {@code
 *       testdata/images/busybox-1.38.0-glibc-oci} (gzip, 410 hardlinks, {@code home} owned by
 *       65534), so that containers run;
 *   <li>a layer built in code: owners, modes (setuid), a symlink, a hardlink, a fifo, nested
 *       directories;
 *   <li>a layer of deletions: a file whiteout and a directory whiteout over BusyBox, a directory
 *       whiteout over layer 2, an opaque directory, a file replaced.
 * </ol>
 */
final class DockerTestImage {
  static final String TAG = "layerd-e2e:base";

  private static final String BUSYBOX = "testdata/images/busybox-1.38.0-glibc-oci/blobs/sha256/";
  private static final String BUSYBOX_LAYER =
      "b05093807bb0294152bb9cf86d64da722732dddaf7f8882fa1f120477dbc4db3";
  private static final String BUSYBOX_CONFIG =
      "c6348fa86ba0fb2108c9334f5fe913ddc6d853313e655891f133a0127c30099f";
  private static final long MTIME = 1_715_000_000L;

  private DockerTestImage() {}

  /** The repository's root (surefire passes it; else the working directory's parent). */
  static Path repoRoot() {
    String p = System.getProperty("layerd.repoRoot");
    if (p != null && !p.isBlank() && Files.isDirectory(Path.of(p, "testdata"))) {
      return Path.of(p);
    }
    Path cwd = Path.of("").toAbsolutePath();
    return Files.isDirectory(cwd.resolve("testdata")) ? cwd : cwd.getParent();
  }

  static byte[] layer2() {
    return TarBuilder.create()
        .dir("data/")
        .owner(1000, 1000)
        .mtime(MTIME)
        .file("data/a.txt", "alpha\n")
        .mode(0640)
        .owner(1000, 100)
        .mtime(MTIME)
        .file("data/exec", "#!/bin/sh\necho exec\n")
        .mode(0755)
        .mtime(MTIME)
        .file("data/suid", "not really a program\n")
        .mode(04755)
        .mtime(MTIME)
        .symlink("data/link", "a.txt")
        .mtime(MTIME)
        .hardlink("data/hard", "data/a.txt")
        // As docker's own tar writer does: a hardlink's header repeats its inode's attributes.
        // (moby applies a hardlink header's mode, owner and mtime to the shared inode; layerd's
        // applier keeps the target's, as GNU tar does: they differ only for such hand-made tars.)
        .mode(0640)
        .owner(1000, 100)
        .mtime(MTIME)
        .fifo("data/fifo")
        .mode(0600)
        .mtime(MTIME)
        .dir("data/sub/")
        .mtime(MTIME)
        .dir("data/sub/deeper/")
        .mtime(MTIME)
        .file("data/sub/deeper/file", "deep\n")
        .mtime(MTIME)
        .dir("srv/")
        .owner(33, 33)
        .mtime(MTIME)
        .file("srv/index.html", "<p>hi</p>\n")
        .owner(33, 33)
        .mtime(MTIME)
        .build();
  }

  static byte[] layer3() {
    return TarBuilder.create()
        .dir("bin/")
        .mtime(MTIME)
        .whiteout("bin/vi")
        .dir("var/")
        .mtime(MTIME)
        .whiteout("var/www")
        .dir("data/")
        .owner(1000, 1000)
        .mtime(MTIME)
        .whiteout("data/sub")
        .file("data/a.txt", "alpha, replaced\n")
        .mode(0644)
        .owner(1000, 100)
        .mtime(MTIME + 60)
        .dir("etc/")
        .mtime(MTIME)
        .dir("etc/network/")
        .mtime(MTIME)
        .opaque("etc/network")
        .file("etc/network/interfaces", "auto lo\n")
        .mtime(MTIME)
        .build();
  }

  /** Writes the docker-save archive to {@code file}. */
  static void write(Path file) throws IOException {
    Path blobs = repoRoot().resolve(BUSYBOX);
    byte[] busybox = Files.readAllBytes(blobs.resolve(BUSYBOX_LAYER));
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = (ObjectNode) json.readTree(blobs.resolve(BUSYBOX_CONFIG).toFile());
    byte[] l2 = layer2();
    byte[] l3 = layer3();
    ArrayNode diffIds = (ArrayNode) config.get("rootfs").get("diff_ids");
    diffIds.add("sha256:" + sha256(l2));
    diffIds.add("sha256:" + sha256(l3));
    ArrayNode history = (ArrayNode) config.get("history");
    history.addObject().put("created", "2024-05-06T12:53:20Z").put("created_by", "layerd e2e 2");
    history.addObject().put("created", "2024-05-06T12:53:20Z").put("created_by", "layerd e2e 3");
    byte[] cfg = json.writeValueAsBytes(config);
    String cfgName = sha256(cfg) + ".json";

    Map<String, byte[]> files = new LinkedHashMap<>();
    files.put("l1/layer.tar", busybox); // gzip: docker load decompresses layers
    files.put("l2/layer.tar", l2);
    files.put("l3/layer.tar", l3);
    files.put(cfgName, cfg);
    ArrayNode manifest = json.createArrayNode();
    ObjectNode m = manifest.addObject();
    m.put("Config", cfgName);
    m.putArray("RepoTags").add(TAG);
    ArrayNode layers = m.putArray("Layers");
    for (String l : List.of("l1/layer.tar", "l2/layer.tar", "l3/layer.tar")) {
      layers.add(l);
    }
    files.put("manifest.json", json.writeValueAsBytes(manifest));

    TarBuilder out = TarBuilder.create();
    for (String dir : List.of("l1/", "l2/", "l3/")) {
      out.dir(dir);
    }
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      out.file(e.getKey(), e.getValue());
    }
    try (OutputStream o = Files.newOutputStream(file)) {
      out.writeTo(o);
    }
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The number of layers of {@link #TAG}. */
  static int layers() {
    return 3;
  }

  /** The diff_ids a saved image's config lists. */
  static List<String> diffIds(JsonNode config) {
    List<String> out = new java.util.ArrayList<>();
    config.get("rootfs").get("diff_ids").forEach(n -> out.add(n.asText()));
    return out;
  }
}
