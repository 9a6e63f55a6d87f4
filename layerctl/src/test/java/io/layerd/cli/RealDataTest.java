package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.Require;
import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TestUser;
import io.layerd.testkit.TreeManifest;
import io.layerd.testkit.UserNsTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * layerd against its peers on real data that nobody on the team wrote (testdata/, see its
 * README.md): every layer of testdata/layers unpacked by {@code layerctl unpack} equals GNU tar's
 * extraction; every image of testdata/images unpacked by {@code layerctl image unpack} equals
 * {@code umoci raw unpack}'s; and both, unpacked as an unprivileged user in a user namespace, equal
 * the root result with owners shifted — except where the namespace cannot hold the ids, which must
 * fail clearly.
 *
 * <p>What the comparisons leave out, and why (nothing else):
 *
 * <ul>
 *   <li>the root directory's mtime, when the layer has no entry for "./" (GNU tar), and always
 *       against umoci (it sets the root's mtime to the epoch) and for images (a layer that adds a
 *       name to the root changes its mtime): the root's type, mode and owner are still compared;
 *   <li>in a user namespace, device nodes: mknod is not permitted there, the applier skips them and
 *       counts them ({@code skippedDevices}), which the test checks.
 * </ul>
 */
class RealDataTest {
  @TempDir Path tmp;

  private static final long TOOL_TIMEOUT_SECONDS = 120;

  // ------------------------------------------------------------------ layers against GNU tar

  @EndToEndTest
  void everyLayerEqualsGnuTar() throws IOException {
    Require.root();
    Path tar = Require.command("tar");
    List<Executable> checks = new ArrayList<>();
    for (Path layer : RealData.all("layers")) {
      checks.add(() -> layerEqualsGnuTar(tar, layer));
    }
    assertAll(checks);
  }

  private void layerEqualsGnuTar(Path tar, Path layer) throws Exception {
    String name = layer.getFileName().toString();
    Path ours = tmp.resolve("layerd-" + name);
    Cli.run("unpack", layer.toString(), ours.toString()).ok();
    Path theirs = Files.createDirectory(tmp.resolve("tar-" + name));
    exec(
        tar.toString(),
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=*",
        "-xpf",
        layer.toString(),
        "-C",
        theirs.toString());
    assertSameTree(
        name + ": GNU tar vs layerd", theirs, b -> b, ours, b -> b, !RealData.hasRootEntry(layer));
  }

  // ------------------------------------------------------------------ images against umoci

  @EndToEndTest
  void everyImageEqualsUmoci() throws IOException {
    Require.root();
    Path umoci = Require.command("umoci");
    Path skopeo = Require.command("skopeo");
    List<Executable> checks = new ArrayList<>();
    for (Path image : RealData.all("images")) {
      checks.add(() -> imageEqualsUmoci(umoci, skopeo, image));
    }
    assertAll(checks);
  }

  private void imageEqualsUmoci(Path umoci, Path skopeo, Path image) throws Exception {
    String name = image.getFileName().toString();
    Path ours = tmp.resolve("layerd-" + name);
    JsonNode result =
        Cli.run("image", "unpack", "--json", image.toString(), ours.toString()).ok().json();
    boolean oci = result.get("format").asText().equals("oci-layout");
    String source =
        Files.isDirectory(image)
            ? "oci:" + image
            : (oci ? "oci-archive:" : "docker-archive:") + image;
    // umoci reads OCI layouts only: skopeo converts, offline. umoci 0.4.7 cannot read zstd
    // layers, so those are recompressed as gzip on the way: the same tar, the same diffIDs.
    boolean zstd = false;
    for (JsonNode l : result.get("layers")) {
      zstd |= l.get("compression").asText().equals("ZSTD");
    }
    Path layout = tmp.resolve("oci-" + name);
    List<String> copy = new ArrayList<>(List.of(skopeo.toString(), "--insecure-policy", "copy"));
    if (zstd) {
      copy.addAll(List.of("--dest-compress", "--dest-compress-format", "gzip"));
    }
    copy.addAll(List.of(source, "oci:" + layout + ":layerd"));
    exec(copy.toArray(new String[0]));
    Path theirs = tmp.resolve("umoci-" + name);
    exec(umoci.toString(), "raw", "unpack", "--image", layout + ":layerd", theirs.toString());
    assertSameTree(name + ": umoci vs layerd", theirs, b -> b, ours, b -> b, true);
  }

  // ------------------------------------------------------------------ in a user namespace

  @UserNsTest
  void everyLayerInAUserNamespace() throws IOException {
    TestUser user = TestUser.standard();
    Path work = userDirectory(user);
    try {
      List<Executable> checks = new ArrayList<>();
      for (Path layer : RealData.all("layers")) {
        String name = layer.getFileName().toString();
        checks.add(
            () ->
                sameInUserNamespace(
                    user,
                    List.of("unpack", "--json", layer.toString()),
                    name,
                    work,
                    !RealData.hasRootEntry(layer)));
      }
      assertAll(checks);
    } finally {
      TestFiles.deleteTree(work);
    }
  }

  @UserNsTest
  void everyImageInAUserNamespace() throws IOException {
    TestUser user = TestUser.standard();
    Path work = userDirectory(user);
    try {
      List<Executable> checks = new ArrayList<>();
      for (Path image : RealData.all("images")) {
        String name = image.getFileName().toString();
        checks.add(
            () ->
                sameInUserNamespace(
                    user,
                    List.of("image", "unpack", "--json", image.toString()),
                    name,
                    work,
                    true));
      }
      assertAll(checks);
    } finally {
      TestFiles.deleteTree(work);
    }
  }

  /**
   * Runs {@code layerctl ARGS DEST} as root here and as the test user in a user namespace in a
   * child JVM, then compares the trees with the child's owners shifted into the namespace's view.
   * When the root result holds an id the namespace cannot map, the child must fail naming the file
   * and the id, and leave no destination.
   */
  private void sameInUserNamespace(
      TestUser user, List<String> args, String name, Path work, boolean rootMtimeMayDiffer)
      throws Exception {
    Path asRoot = tmp.resolve("root-" + name);
    List<String> rootArgs = new ArrayList<>(args);
    rootArgs.add(asRoot.toString());
    Cli.run(rootArgs).ok();
    TreeManifest rootTree = TreeManifest.of(asRoot);

    Path inNs = work.resolve(name);
    List<String> childArgs = new ArrayList<>(args);
    childArgs.add(inNs.toString());
    ChildJvm.Result r =
        ChildJvm.call(
            user,
            ChildJvm.Mode.USER_NAMESPACE,
            RealDataScenarios::layerctl,
            childArgs.toArray(new String[0]));

    TreeManifest.Entry unmappable = firstUnmappable(rootTree, user);
    if (unmappable != null) {
      if (r.aborted()) {
        r.assertSuccess(); // skips (or fails under requireAll) with the child's reason
      }
      assertFalse(r.succeeded(), name + ": expected a failure for " + unmappable.toText());
      String err = r.stderr();
      long id = unmappable.uid() >= user.subuidCount() ? unmappable.uid() : unmappable.gid();
      assertTrue(err.contains("does not map"), name + ": " + r.describe());
      assertTrue(err.contains(Long.toString(id)), name + ": the id " + id + ": " + r.describe());
      String leaf = unmappable.path().substring(unmappable.path().lastIndexOf('/') + 1);
      assertTrue(
          err.contains("/" + leaf + "\"") || err.contains("/" + leaf + "/\""),
          name + ": the entry " + leaf + ": " + err);
      assertTrue(err.contains("usermod --add-subuids"), name + ": the remedy: " + err);
      assertFalse(Files.exists(inNs), name + ": a failed unpack leaves no DEST");
      try (Stream<Path> s = Files.list(work)) {
        assertEquals(
            List.of(),
            s.map(p -> p.getFileName().toString()).filter(n -> n.contains(name)).toList(),
            name + ": no staging directory left");
      }
      return;
    }
    r.assertSuccess();
    JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.stdout());
    long skipped = 0;
    for (JsonNode l : json.get("layers")) {
      skipped += l.get("skippedDevices").asLong();
    }
    List<String> devices = RealData.devices(rootTree);
    assertEquals(devices.size(), skipped, name + ": devices skipped in the namespace");
    UnaryOperator<TreeManifest.Options.Builder> noDevices =
        b -> {
          devices.forEach(b::exclude);
          return b.ignoreXattrs(CAPABILITY);
        };
    assertSameTree(
        name + ": root vs user namespace",
        asRoot,
        noDevices,
        inNs,
        b -> noDevices.apply(b.userNamespace(user)),
        rootMtimeMayDiffer);
    assertNamespacedCapabilities(name, rootTree, TreeManifest.of(inNs), user);
  }

  private static final String CAPABILITY = "security.capability";

  /**
   * File capabilities set in a user namespace are namespaced by the kernel: a revision 2 {@code
   * security.capability} becomes revision 3 with the namespace root's host uid appended (see
   * capabilities(7), "Namespaced file capabilities"), and is shown as revision 2 only inside that
   * namespace. Seen from outside, each capability of the root tree must be there in that form: the
   * same flags and sets, revision 3, rootid the test user's uid.
   */
  private static void assertNamespacedCapabilities(
      String name, TreeManifest rootTree, TreeManifest nsTree, TestUser user) {
    for (TreeManifest.Entry e : rootTree.entries()) {
      String v2 = e.xattrs() == null ? null : e.xattrs().get(CAPABILITY);
      if (v2 == null) {
        continue;
      }
      assertTrue(v2.startsWith("0x") && v2.length() == 2 + 40, name + ": " + e.toText());
      assertEquals("02", v2.substring(8, 10), name + ": a revision 2 capability: " + v2);
      String rootId =
          String.format(
              "%02x%02x%02x%02x",
              user.uid() & 0xff,
              (user.uid() >> 8) & 0xff,
              (user.uid() >> 16) & 0xff,
              (user.uid() >> 24) & 0xff);
      String v3 = v2.substring(0, 8) + "03" + v2.substring(10) + rootId;
      TreeManifest.Entry ns = nsTree.get(e.path()).orElseThrow();
      assertEquals(v3, ns.xattrs().get(CAPABILITY), name + ": " + e.path() + "'s capability");
    }
  }

  /** The first entry whose owner a user namespace of this user cannot map, or null. */
  private static TreeManifest.Entry firstUnmappable(TreeManifest m, TestUser user) {
    for (TreeManifest.Entry e : m.entries()) {
      if (e.uid() >= user.subuidCount() || e.gid() >= user.subgidCount()) {
        return e;
      }
    }
    return null;
  }

  /** A fresh directory under /tmp that the user owns (its parent lets everyone in). */
  private static Path userDirectory(TestUser user) throws IOException {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "layerd-realdata-");
    Sys.fchownat(Sys.AT_FDCWD, Names.bytes(dir.toString()), user.uid(), user.gid(), 0);
    return dir;
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Compares two trees. With {@code rootMtimeMayDiffer} the root's own attributes are left out of
   * the main comparison, and its type, mode and owner compared on their own: only its mtime (and
   * xattrs) may differ.
   */
  private static void assertSameTree(
      String what,
      Path expectedDir,
      UnaryOperator<TreeManifest.Options.Builder> expectedOptions,
      Path actualDir,
      UnaryOperator<TreeManifest.Options.Builder> actualOptions,
      boolean rootMtimeMayDiffer)
      throws IOException {
    TreeManifest.Options.Builder eb = expectedOptions.apply(TreeManifest.Options.builder());
    TreeManifest.Options.Builder ab = actualOptions.apply(TreeManifest.Options.builder());
    TreeManifest expectedFull = TreeManifest.of(expectedDir, eb.build());
    TreeManifest actualFull = TreeManifest.of(actualDir, ab.build());
    try {
      if (rootMtimeMayDiffer) {
        TreeManifest.assertSame(rootOnly(expectedFull), rootOnly(actualFull));
        TreeManifest.Options ignoreRoot =
            TreeManifest.Options.builder().ignoreRootAttributes().build();
        TreeManifest.assertSame(
            expectedFull.normalize(ignoreRoot), actualFull.normalize(ignoreRoot));
      } else {
        TreeManifest.assertSame(expectedFull, actualFull);
      }
    } catch (AssertionError e) {
      throw new AssertionError(what + ": " + e.getMessage(), e);
    }
  }

  /** The root entry's type, mode and owner only. */
  private static TreeManifest rootOnly(TreeManifest m) {
    TreeManifest.Entry root = m.get(".").orElseThrow();
    return TreeManifest.ofEntries(List.of(root.withMtime(null, null).withXattrs(null)));
  }

  /** Runs a peer tool, failing with its output when it does not exit 0. */
  private Path exec(String... cmd) throws IOException, InterruptedException {
    Path log = Files.createTempFile(tmp, "tool-", ".log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    p.getOutputStream().close();
    if (!p.waitFor(TOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + " timed out");
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(
          String.join(" ", cmd)
              + " exited "
              + p.exitValue()
              + ": "
              + Files.readString(log, StandardCharsets.UTF_8));
    }
    return log;
  }
}
