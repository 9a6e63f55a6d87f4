package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.testkit.TreeManifest;
import io.layerd.unpack.TarEntry;
import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The docker steps every end-to-end suite runs, in order, on a fresh dockerd: load, create, run
 * (--network none), cp in both ways, diff, export, commit, run of the commit, save, rm, rmi. What
 * the steps show is returned, to be compared with what dockerd's built-in vfs shows for the same
 * steps.
 */
final class DockerScenario {
  private DockerScenario() {}

  static final String COMMITTED = "layerd-e2e:committed";

  /** The script the container runs: changes of every kind over every layer of the image. */
  static final String SCRIPT =
      String.join(
          "; ",
          "set -e",
          "echo run > /data/new.txt",
          "rm /data/exec",
          "mkdir -p /made/deep",
          "echo x > /made/deep/f",
          "chmod 600 /data/a.txt",
          "chown 1000:1000 /made",
          "ln -s /data/a.txt /made/l",
          "ln /data/new.txt /made/hl",
          "rm -r /etc/network",
          "rm /srv/index.html",
          "touch /bin/sh-marker",
          "mkfifo /made/fifo",
          "cat /data/a.txt");

  /** What the steps showed. */
  record Outcome(
      TreeManifest created,
      TreeManifest ran,
      TreeManifest committed,
      List<String> diff,
      String cpOut,
      String runOutput,
      String runCommittedOutput,
      int savedLayers) {}

  /** Paths the -init layer makes, with the time of the container's creation. */
  private static final Set<String> INIT =
      Set.of(
          ".dockerenv",
          "dev",
          "dev/console",
          "dev/pts",
          "dev/shm",
          "etc/hostname",
          "etc/hosts",
          "etc/mtab",
          "etc/resolv.conf",
          "proc",
          "sys");

  static Outcome run(DockerHost h, Path work) throws IOException {
    Files.createDirectories(work);
    Path image = h.inputs().resolve("image.tar");
    DockerTestImage.write(image);
    Path cpIn = h.inputs().resolve("cp-in.txt");
    Files.writeString(cpIn, "copied in\n");
    // The CLI of a rootless suite runs as the test user: it reads these.
    Files.setPosixFilePermissions(cpIn, PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("rw-r--r--"));

    h.docker("load", "-i", image.toString()).ok();
    h.docker("create", "--name", "c0", "--network", "none", DockerTestImage.TAG, "true").ok();
    String runOut =
        h.docker(
                "run", "--name", "c1", "--network", "none", DockerTestImage.TAG, "sh", "-c", SCRIPT)
            .ok()
            .stdout();
    h.docker("cp", cpIn.toString(), "c1:/made/cp-in.txt").ok();
    Path cpOut = work.resolve("cp-out.tar");
    h.dockerTo(cpOut, "cp", "c1:/data/a.txt", "-").ok();
    String copiedOut = onlyFileOf(cpOut);
    List<String> diff = sortedLines(h.docker("diff", "c1").ok().stdout());
    // The steps did what they say (on the reference too): a check of the check.
    assertEquals("alpha, replaced\n", runOut, h.describe() + ": the container read a.txt");
    for (String line :
        List.of("A /made/cp-in.txt", "C /data/a.txt", "D /data/exec", "D /etc/network")) {
      assertTrue(diff.contains(line), h.describe() + ": docker diff shows " + line + ": " + diff);
    }

    TreeManifest created = export(h, "c0", work.resolve("c0"), Set.of());
    Set<String> changed = new TreeSet<>();
    for (String line : diff) {
      changed.add(line.substring(2).replaceFirst("^/", ""));
    }
    TreeManifest ran = export(h, "c1", work.resolve("c1"), changed);

    h.docker("commit", "c1", COMMITTED).ok();
    String runCommitted =
        h.docker(
                "run",
                "--rm",
                "--network",
                "none",
                COMMITTED,
                "sh",
                "-c",
                "cat /data/new.txt /made/cp-in.txt; ls /etc/network 2>&1 || true")
            .ok()
            .stdout();
    h.docker("create", "--name", "c2", "--network", "none", COMMITTED, "true").ok();
    TreeManifest committed = export(h, "c2", work.resolve("c2"), changed);

    Path saved = work.resolve("saved.tar");
    h.dockerTo(saved, "save", COMMITTED).ok();
    int savedLayers = checkSaved(saved);

    h.docker("rm", "c0", "c1", "c2").ok();
    h.docker("rmi", COMMITTED, DockerTestImage.TAG).ok();
    assertEquals("", h.docker("ps", "-aq").ok().stdout().strip(), "no containers are left");
    assertEquals("", h.docker("images", "-q").ok().stdout().strip(), "no images are left");
    return new Outcome(created, ran, committed, diff, copiedOut, runOut, runCommitted, savedLayers);
  }

  /** The content of the one regular file in a tar ({@code docker cp CONTAINER:FILE -}). */
  private static String onlyFileOf(Path tar) throws IOException {
    try (InputStream in = Files.newInputStream(tar)) {
      TarReader r = new TarReader(in);
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        if (e.type() == TarEntry.Type.FILE) {
          return e.displayName()
              + ":"
              + new String(r.content().readAllBytes(), StandardCharsets.UTF_8);
        }
      }
    }
    throw new AssertionError("docker cp wrote no file");
  }

  private static List<String> sortedLines(String s) {
    List<String> out = new ArrayList<>(s.strip().lines().toList());
    out.sort(null);
    return out;
  }

  /**
   * {@code docker export}, unpacked by GNU tar as root (numeric owners, modes, times, xattrs,
   * hardlinks), as a tree manifest without the times nobody controls: directories' (they change
   * with their content), the -init layer's, and those of paths the container changed.
   */
  static TreeManifest export(DockerHost h, String container, Path dir, Set<String> changed)
      throws IOException {
    Path tar = dir.resolveSibling(container + ".tar");
    h.dockerTo(tar, "export", container).ok();
    Files.createDirectories(dir);
    DockerHost.exec(
            List.of(
                "tar",
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-xpf",
                tar.toString(),
                "-C",
                dir.toString()),
            null,
            Duration.ofMinutes(2))
        .ok();
    TreeManifest m =
        TreeManifest.of(dir, TreeManifest.Options.builder().ignoreRootAttributes().build());
    List<TreeManifest.Entry> out = new ArrayList<>();
    for (TreeManifest.Entry e : m.entries()) {
      boolean keepTime =
          e.type() != TreeManifest.Type.DIR
              && !INIT.contains(e.path())
              && !e.path().startsWith("dev/")
              && !changed.contains(e.path());
      out.add(keepTime ? e : e.withMtime(null, null));
    }
    return TreeManifest.ofEntries(out);
  }

  /**
   * A saved image: every layer's tar (decompressed: Docker 28 saves layers as its content store
   * holds them) hashes to the diff_id its config lists (dockerd rebuilt them from what the storage
   * driver kept), and there is one layer more than the base image had.
   */
  static int checkSaved(Path saved) throws IOException {
    Map<String, String> layerDigests = new HashMap<>();
    Map<String, byte[]> small = new LinkedHashMap<>();
    try (InputStream in = Files.newInputStream(saved)) {
      TarReader r = new TarReader(in);
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        if (e.type() != TarEntry.Type.FILE) {
          continue;
        }
        String name = e.displayName();
        if (name.endsWith(".json")) {
          small.put(name, r.content().readAllBytes());
          continue;
        }
        java.security.MessageDigest md = sha256();
        byte[] buf = new byte[64 * 1024];
        InputStream c = io.layerd.unpack.internal.LayerStream.open(r.content()).tar();
        for (int n; (n = c.read(buf)) > 0; ) {
          md.update(buf, 0, n);
        }
        layerDigests.put(name, "sha256:" + java.util.HexFormat.of().formatHex(md.digest()));
        if (e.size() < 1 << 20 && name.startsWith("blobs/")) {
          small.put(name, null); // a blob that may be the config: read again below
        }
      }
    }
    resolveSmallBlobs(saved, small);
    ObjectMapper json = new ObjectMapper();
    JsonNode manifest = json.readTree(small.get("manifest.json")).get(0);
    JsonNode config = json.readTree(small.get(manifest.get("Config").asText()));
    List<String> diffIds = DockerTestImage.diffIds(config);
    List<String> layers = new ArrayList<>();
    manifest.get("Layers").forEach(n -> layers.add(n.asText()));
    assertEquals(DockerTestImage.layers() + 1, layers.size(), "saved layers: " + layers);
    for (int i = 0; i < layers.size(); i++) {
      assertEquals(
          diffIds.get(i),
          layerDigests.get(layers.get(i)),
          "docker save: layer " + i + " (" + layers.get(i) + ") hashes to its diff_id");
    }
    assertTrue(layers.size() == diffIds.size());
    return layers.size();
  }

  /** Reads the contents of the blobs {@code small} names (they may be an image config). */
  private static void resolveSmallBlobs(Path saved, Map<String, byte[]> small) throws IOException {
    try (InputStream in = Files.newInputStream(saved)) {
      TarReader r = new TarReader(in);
      for (TarEntry e = r.next(); e != null; e = r.next()) {
        if (e.type() == TarEntry.Type.FILE
            && small.containsKey(e.displayName())
            && small.get(e.displayName()) == null) {
          small.put(e.displayName(), r.content().readAllBytes());
        }
      }
    }
  }

  private static java.security.MessageDigest sha256() {
    try {
      return java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
