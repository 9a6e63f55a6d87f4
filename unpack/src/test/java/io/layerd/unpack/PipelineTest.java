package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.IsalInflater;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TreeManifest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The concurrent parts of an apply: the decoder and digest threads of {@link LayerPipeline} (gzip
 * by ISA-L and by zlib alike), and the writer threads that finish regular files. Whatever the
 * number of writers the tree is the same, every ordering rule of the archive holds, and an apply
 * that ends early (a bad archive, a full disk, an Error thrown by the caller's stream) leaves no
 * descriptor open and no thread running.
 */
class PipelineTest {
  @TempDir Path tmp;

  // ------------------------------------------------------------------ the decoder

  /** Random-ish content that compresses somewhat, over many members when asked. */
  static byte[] content(int size, long seed) {
    byte[] b = new byte[size];
    Random r = new Random(seed);
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (r.nextInt(16) + (i / 4096 % 7) * 16);
    }
    return b;
  }

  static byte[] gzipMembers(byte[] data, int members) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int step = Math.max(1, data.length / members);
    for (int at = 0; at < data.length; at += step) {
      try (GZIPOutputStream gz = new GZIPOutputStream(nonClosing(out))) {
        gz.write(data, at, Math.min(step, data.length - at));
      }
    }
    return out.toByteArray();
  }

  static java.io.OutputStream nonClosing(ByteArrayOutputStream out) {
    return new java.io.FilterOutputStream(out) {
      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }

  static String sha256(byte[] b) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  /** Everything the pipeline's tar side yields, and its digests. */
  record Decoded(byte[] tar, ApplyResult.Digests digests) {}

  static Decoded decode(byte[] layer, boolean isal) throws IOException {
    try (LayerPipeline p = LayerPipeline.start(new ByteArrayInputStream(layer), isal)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      p.tar().transferTo(out);
      return new Decoded(out.toByteArray(), p.finish());
    }
  }

  static Stream<Boolean> inflaters() {
    return IsalInflater.available() ? Stream.of(true, false) : Stream.of(false);
  }

  @Test
  void isalIsThereWhereTheMachineHasIt() {
    // CI installs libisal2: the fast path must be the one tested there, not silently skipped.
    Require.that(
        IsalInflater.available(), "ISA-L is not used: " + IsalInflater.unavailableReason());
  }

  @ParameterizedTest(name = "{0} members")
  @ValueSource(ints = {1, 2, 37, 400})
  void gzipMembersInflateAlikeByIsalAndByZlib(int members) throws IOException {
    byte[] data = content(3_000_000, members);
    byte[] gz = gzipMembers(data, members);
    for (boolean isal : inflaters().toList()) {
      Decoded d = decode(gz, isal);
      assertArrayEquals(data, d.tar(), "isal=" + isal);
      assertEquals(sha256(gz), d.digests().digest(), "isal=" + isal);
      assertEquals(gz.length, d.digests().compressedSize());
      assertEquals(sha256(data), d.digests().diffId());
      assertEquals(data.length, d.digests().uncompressedSize());
    }
  }

  /** Issue 14, item 5: junk after the last gzip member was accepted silently (containerd fails). */
  @Test
  void bytesAfterTheLastGzipMemberAreRefusedAfterEveryGoodByte() throws IOException {
    byte[] data = content(500_000, 7);
    byte[] gz = gzipMembers(data, 3);
    byte[] withJunk = java.util.Arrays.copyOf(gz, gz.length + 700);
    for (int i = gz.length; i < withJunk.length; i++) {
      withJunk[i] = (byte) i;
    }
    for (boolean isal : inflaters().toList()) {
      IOException e = assertThrows(IOException.class, () -> decode(withJunk, isal));
      assertTrue(
          e.getMessage().contains("the gzip data ends at byte " + gz.length + " of the layer"),
          e.getMessage());
      assertTrue(e.getMessage().contains("not another gzip member"), e.getMessage());
    }
  }

  @Test
  void aCorruptGzipMemberIsReportedByBothInflaters() throws IOException {
    byte[] gz = gzipMembers(content(400_000, 3), 2);
    byte[] flipped = gz.clone();
    flipped[gz.length / 3] ^= 0x55;
    byte[] cut = java.util.Arrays.copyOf(gz, gz.length - 5);
    for (boolean isal : inflaters().toList()) {
      IOException bad = assertThrows(IOException.class, () -> decode(flipped, isal));
      assertTrue(bad.getMessage().contains("gzip stream is corrupt"), bad.getMessage());
      IOException shortened = assertThrows(IOException.class, () -> decode(cut, isal));
      assertTrue(shortened.getMessage().contains("cut short"), shortened.getMessage());
    }
  }

  @Test
  void zstdFramesSkippableOnesTooAreReadToTheEnd() throws IOException {
    byte[] a = content(1_200_000, 1);
    byte[] b = content(300_000, 2);
    ByteArrayOutputStream layer = new ByteArrayOutputStream();
    layer.writeBytes(skippable(40));
    layer.writeBytes(com.github.luben.zstd.Zstd.compress(a, 3));
    layer.writeBytes(skippable(9));
    layer.writeBytes(com.github.luben.zstd.Zstd.compress(b, 19));
    byte[] blob = layer.toByteArray();
    Decoded d = decode(blob, false);
    ByteArrayOutputStream both = new ByteArrayOutputStream();
    both.writeBytes(a);
    both.writeBytes(b);
    assertArrayEquals(both.toByteArray(), d.tar());
    assertEquals(sha256(blob), d.digests().digest());
    assertEquals(sha256(both.toByteArray()), d.digests().diffId());

    byte[] cut = java.util.Arrays.copyOf(blob, blob.length - 20);
    IOException e = assertThrows(IOException.class, () -> decode(cut, false));
    assertTrue(e.getMessage().contains("zstd"), e.getMessage());
  }

  static byte[] skippable(int size) {
    java.nio.ByteBuffer b =
        java.nio.ByteBuffer.allocate(8 + size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putInt(0x184D2A5A).putInt(size);
    return b.array();
  }

  @Test
  void aReaderThatStopsEarlyStopsTheThreads() throws IOException {
    byte[] gz = gzipMembers(content(20_000_000, 5), 1); // far more than the chunk pool holds
    try (LayerPipeline p = LayerPipeline.start(new ByteArrayInputStream(gz))) {
      byte[] some = new byte[100_000];
      assertEquals(some.length, p.tar().readNBytes(some, 0, some.length));
    }
    assertNoPipelineThreads();
  }

  // ------------------------------------------------------------------ the writers

  /**
   * A layer that meets every rule the writers must keep: files in fresh directories (handed over),
   * then names used again (file over file, directory over file, file over directory, symlink over a
   * file), hardlinks to handed-over files, whiteouts of them, and large files (written on the
   * applying thread) beside small ones.
   */
  static TarBuilder orderingLayer() {
    TarBuilder t = TarBuilder.create();
    for (int d = 0; d < 6; d++) {
      t.dir("d" + d + "/");
      for (int f = 0; f < 150; f++) {
        t.file("d" + d + "/f" + f, 10 + f * 37 + d).mode(0640 + (f % 8)).mtime(1_600_000_000L + f);
      }
      t.mtime(1_500_000_000L + d);
    }
    t.file("d0/f1", "second version of f1").mtime(1_700_000_001L);
    t.hardlink("d1/link-to-f2", "d1/f2");
    t.file("d1/f2", "f2 replaced after its hardlink was made");
    t.whiteout("d2/f3"); // hides nothing: a whiteout applies to lower layers only
    t.whiteout("lower/gone");
    t.file("d2/f3-after-whiteout", 5000);
    t.dir("d3/f4/");
    t.file("d3/f4/inside", "a file in the directory that replaced a file");
    t.symlink("d4/f5", "f6");
    t.file("d5/big", 3_000_000);
    t.file("d5/f7", 100);
    t.dir("d5/");
    t.mtime(1_234_567_890L); // the directory's entry again: its times after its children
    t.hardlink("d5/big-link", "d5/big");
    return t;
  }

  @Test
  void theTreeIsTheSameWhateverTheWriters() throws IOException {
    byte[] base =
        TarBuilder.create()
            .dir("d0/")
            .file("d0/f1", "from the lower layer")
            .dir("lower/")
            .file("lower/gone", "hidden by the upper layer")
            .build();
    byte[] layer = orderingLayer().build();
    TreeManifest reference = null;
    for (int writers : new int[] {0, 1, 4}) {
      Path root = Files.createDirectory(tmp.resolve("w" + writers));
      LayerApplier a = LayerApplier.builder().writers(writers).build();
      Layers.apply(a, root, "base", base);
      ApplyResult r = Layers.apply(a, root, "layer", layer);
      TreeManifest m =
          TreeManifest.of(root, TreeManifest.Options.builder().ignoreRootAttributes().build());
      if (reference == null) {
        reference = m;
        assertEquals(
            "second version of f1", Files.readString(root.resolve("d0/f1")), "later entry wins");
        assertEquals(
            "f2 replaced after its hardlink was made", Files.readString(root.resolve("d1/f2")));
        assertEquals(
            10 + 2 * 37 + 1, Files.size(root.resolve("d1/link-to-f2")), "the link kept the first");
        assertTrue(Files.exists(root.resolve("d2/f3")), "made in the same layer as its whiteout");
        assertFalse(Files.exists(root.resolve("lower/gone")));
        assertTrue(Files.isSymbolicLink(root.resolve("d4/f5")));
        assertTrue(r.counts().files() > 900, "files: " + r.counts().files());
      } else {
        TreeManifest.assertSame(reference, m);
      }
    }
  }

  /**
   * In overlay mode the writers create files too, but never a name this apply made that is not a
   * layer entry: a whiteout's device (a later file of that name replaces it), or what a copy-up of
   * a lower hardlink group made in a directory of this layer (a later file of that name replaces
   * the copy).
   */
  @RootTest
  void overlayModeTreeIsTheSameWhateverTheWriters() throws IOException {
    Path lower = Files.createDirectory(tmp.resolve("lower"));
    Layers.apply(
        LayerApplier.builder().build(),
        lower,
        "lower",
        TarBuilder.create()
            .dir("hl/")
            .file("hl/target", "lower target")
            .hardlink("hl/other", "hl/target")
            .build());
    TarBuilder t = TarBuilder.create().dir("d/");
    for (int f = 0; f < 300; f++) {
      t.file("d/f" + f, 10 + f * 37).mode(0640 + (f % 8));
    }
    t.whiteout("d/x").file("d/x", "over its own whiteout");
    t.whiteout("d/y").dir("d/y/").file("d/y/in", "in the directory over the whiteout");
    t.dir("hl/").hardlink("hl/link", "hl/target").file("hl/other", "replaces the copied-up link");
    for (int f = 0; f < 300; f++) {
      t.file("hl/g" + f, 100 + f);
    }
    byte[] layer = t.build();
    TreeManifest reference = null;
    for (int writers : new int[] {0, 1, 4}) {
      Path root = Files.createDirectory(tmp.resolve("o" + writers));
      LayerApplier a =
          LayerApplier.builder()
              .writers(writers)
              .whiteouts(WhiteoutMode.OVERLAY)
              .overlayXattrs(OverlayXattrs.TRUSTED)
              .lowers(List.of(lower))
              .build();
      Layers.apply(a, root, "layer", layer);
      TreeManifest m =
          TreeManifest.of(root, TreeManifest.Options.builder().ignoreRootAttributes().build());
      if (reference == null) {
        reference = m;
        assertEquals("over its own whiteout", Files.readString(root.resolve("d/x")));
        assertTrue(Files.isDirectory(root.resolve("d/y")));
        assertEquals("replaces the copied-up link", Files.readString(root.resolve("hl/other")));
        assertEquals("lower target", Files.readString(root.resolve("hl/link")));
        assertEquals(
            Files.getAttribute(root.resolve("hl/link"), "unix:ino"),
            Files.getAttribute(root.resolve("hl/target"), "unix:ino"));
      } else {
        TreeManifest.assertSame(reference, m);
      }
    }
  }

  /** The tree a layer (over an optional base) leaves with this many writers, or its failure. */
  String applied(String name, byte[] base, byte[] layer, int writers) throws IOException {
    Path root = Files.createDirectory(tmp.resolve(name + "-" + writers));
    LayerApplier a = LayerApplier.builder().writers(writers).build();
    try {
      if (base != null) {
        Layers.apply(a, root, "base", base);
      }
      Layers.apply(a, root, "layer", layer);
    } catch (LayerApplyException e) {
      return "refused: " + e.getMessage().replace(root.toString(), "ROOT");
    }
    return TreeManifest.of(root, Layers.SHAPE).toString();
  }

  /**
   * Names reached through symlinks: the writers' bookkeeping knows names by the archive's spelling,
   * so a directory made through a symlink, or a fresh directory reached under another name, must
   * make the applier wait for its writers and trust no directory as fresh any more.
   */
  static Stream<Arguments> symlinkSpellings() {
    TarBuilder many = TarBuilder.create().dir("a/").symlink("a/s", "t").dir("a/s/d/");
    for (int i = 0; i < 300; i++) {
      many.file("a/s/d/f" + i, 1000);
    }
    many.symlink("a/t", "/nowhere"); // replaces the directory the 300 files went to
    TarBuilder crossed = TarBuilder.create().dir("a/").dir("a/t/").symlink("a/s", "t");
    for (int i = 0; i < 100; i++) {
      crossed.file("a/t/x" + i, 10).file("a/s/x" + i, 20); // the same files, by both names
    }
    return Stream.of(
        Arguments.of(
            "a directory made through a symlink, then a file by its real name",
            null,
            TarBuilder.create()
                .dir("a/")
                .dir("a/t/")
                .symlink("a/s", "t")
                .dir("a/s/d/")
                .file("a/t/d", "a file where the directory was")
                .build()),
        Arguments.of(
            "directories made behind a dangling symlink, then one replaced by a file",
            null,
            TarBuilder.create()
                .dir("a/")
                .symlink("a/s", "t")
                .file("a/s/x", "hi")
                .file("a/t", "a file where the implied directory was")
                .build()),
        Arguments.of(
            "a symlink of the lower layer",
            TarBuilder.create().symlink("s", "/a/t").build(),
            TarBuilder.create().dir("a/").dir("s/d/").file("a/t", "replaces").build()),
        Arguments.of("files under a directory replaced through another name", null, many.build()),
        Arguments.of("each file twice, by two names", null, crossed.build()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("symlinkSpellings")
  void namesReachedThroughSymlinksGiveTheSequentialTree(String name, byte[] base, byte[] layer)
      throws IOException {
    String sequential = applied("seq", base, layer, 0);
    for (int round = 0; round < 3; round++) {
      assertEquals(sequential, applied("par" + round, base, layer, 2), "round " + round);
    }
  }

  /** An interrupt of the applying thread: apply ends, and with it every thread it started. */
  @Test
  void anInterruptedApplyLeavesNoThread() throws Exception {
    TarBuilder t = TarBuilder.create().dir("a/");
    for (int i = 0; i < 3000; i++) {
      t.file("a/f" + i, 1500);
    }
    byte[] layer = t.gzip();
    List<String> before = descriptors();
    for (int round = 0; round < 20; round++) {
      Path root = Files.createDirectory(tmp.resolve("r" + round));
      java.util.concurrent.atomic.AtomicReference<List<String>> left =
          new java.util.concurrent.atomic.AtomicReference<>();
      Thread applying =
          new Thread(
              () -> {
                try {
                  LayerApplier.builder()
                      .writers(2)
                      .build()
                      .apply(
                          "l", new ByteArrayInputStream(layer), root, LayerApplier.Expect.NOTHING);
                } catch (IOException expected) {
                  // interrupted (or finished first: either way no thread may be left)
                }
                left.set(pipelineThreads());
              });
      applying.start();
      Thread.sleep(2 + round % 15);
      applying.interrupt();
      applying.join();
      assertEquals(List.of(), left.get(), "threads alive when apply returned, round " + round);
    }
    assertEquals(before, descriptors(), "descriptors left open");
  }

  // ------------------------------------------------------------------ ending early

  /** Thrown by a test's stream: an Error, as an OutOfMemoryError or a crash test's would be. */
  static final class StreamError extends Error {
    private static final long serialVersionUID = 1L;

    StreamError() {
      super("the stream gave up");
    }
  }

  /** Reads {@code after} bytes, then throws what {@code failure} makes. */
  static InputStream failingAfter(
      byte[] layer, long after, java.util.function.Supplier<?> failure) {
    return new FilterInputStream(new ByteArrayInputStream(layer)) {
      long read;

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (read >= after) {
          Object f = failure.get();
          if (f instanceof IOException) {
            throw (IOException) f;
          }
          throw (Error) f;
        }
        int n = super.read(b, off, (int) Math.min(len, after - read));
        if (n > 0) {
          read += n;
        }
        return n;
      }
    };
  }

  /**
   * Small files (handed to the writers) around a large one (written on the applying thread): a
   * stream cut at a fifth of the layer stops inside a small file's data, at half of it inside the
   * large one's (the reader sees whole 256 KiB chunks, so a cut nearly always falls in some data).
   */
  static TarBuilder smallAndLarge() {
    TarBuilder t = TarBuilder.create().dir("a/");
    for (int f = 0; f < 30; f++) {
      t.file("a/file" + f, 100_000 + f);
    }
    t.file("large", 4_000_000);
    t.dir("b/");
    for (int f = 0; f < 30; f++) {
      t.file("b/file" + f, 100_000 + f);
    }
    return t;
  }

  static byte[] encoded(TarBuilder t, String form) {
    switch (form) {
      case "gzip":
        return t.gzip();
      case "zstd":
        return t.zstd();
      default:
        return t.build();
    }
  }

  @ParameterizedTest(name = "{0}, cut at {1}")
  @CsvSource({"none,0.2", "none,0.5", "gzip,0.2", "gzip,0.5", "zstd,0.2", "zstd,0.5"})
  void anErrorFromTheStreamLeavesNoDescriptorAndNoThread(String form, double cut)
      throws IOException {
    byte[] layer = encoded(smallAndLarge(), form);
    Path root = Files.createDirectory(tmp.resolve("root"));
    List<String> before = descriptors();
    StreamError thrown = new StreamError();
    LayerApplier a = LayerApplier.builder().writers(3).build();
    StreamError e =
        assertThrows(
            StreamError.class,
            () ->
                a.apply(
                    "l",
                    failingAfter(layer, (long) (layer.length * cut), () -> thrown),
                    root,
                    LayerApplier.Expect.NOTHING));
    assertSame(thrown, e, "the Error itself reaches the caller");
    assertNoPipelineThreads();
    assertEquals(before, descriptors(), "descriptors left open");
  }

  @ParameterizedTest(name = "{0}, cut at {1}")
  @CsvSource({"none,0.2", "none,0.5", "gzip,0.2", "gzip,0.5", "zstd,0.2", "zstd,0.5"})
  void aFailingStreamLeavesNoDescriptorAndNoThread(String form, double cut) throws IOException {
    byte[] layer = encoded(smallAndLarge(), form);
    Path root = Files.createDirectory(tmp.resolve("root"));
    List<String> before = descriptors();
    LayerApplier a = LayerApplier.builder().writers(3).build();
    LayerApplyException e =
        assertThrows(
            LayerApplyException.class,
            () ->
                a.apply(
                    "l",
                    failingAfter(
                        layer, (long) (layer.length * cut), () -> new IOException("network gone")),
                    root,
                    LayerApplier.Expect.NOTHING));
    assertTrue(e.getMessage().contains("network gone"), e.getMessage());
    assertNoPipelineThreads();
    assertEquals(before, descriptors(), "descriptors left open");
  }

  /** A writer's failure (here: the disk is full) names the file it was writing, and stops all. */
  @RootTest
  void aWritersFailureNamesItsFile() throws IOException, InterruptedException {
    Path small = Files.createDirectory(tmp.resolve("small"));
    run("mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=10000", "tmpfs", small.toString());
    try {
      TarBuilder t = TarBuilder.create().dir("d/");
      for (int i = 0; i < 40; i++) {
        t.file("d/f" + i, 100_000);
      }
      List<String> before = descriptors();
      LayerApplier a = LayerApplier.builder().writers(2).build();
      LayerApplyException e =
          assertThrows(LayerApplyException.class, () -> Layers.apply(a, small, "full", t.gzip()));
      assertTrue(e.getMessage().contains("d/f"), "names the file: " + e.getMessage());
      assertTrue(
          e.getMessage().contains("No space left") || e.getMessage().contains("ENOSPC"),
          e.getMessage());
      assertNoPipelineThreads();
      assertEquals(before, descriptors(), "descriptors left open");
    } finally {
      run("umount", small.toString()); // fails (busy) if a descriptor were still open in it
    }
  }

  static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
  }

  /**
   * The files and directories this process has open, by target (sorted), leaving out the listing's
   * own descriptor.
   */
  static List<String> descriptors() throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : s.toList()) {
        try {
          out.add(Files.readSymbolicLink(fd).toString());
        } catch (IOException gone) {
          // the listing's own descriptor, closed by now
        }
      }
    }
    out.removeIf(t -> t.startsWith("/proc/") && t.endsWith("/fd"));
    // Files and directories only: the pipes of processes other tests started close on their own.
    out.removeIf(t -> !t.startsWith("/"));
    out.sort(null);
    return out;
  }

  /** The decoder, digest and writer threads alive now. */
  static List<String> pipelineThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(
            n ->
                n.startsWith("layerd-decode")
                    || n.startsWith("layerd-digest")
                    || n.startsWith("layerd-write"))
        .toList();
  }

  /** The decoder, digest and writer threads end with the apply (or soon after a stop). */
  static void assertNoPipelineThreads() {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (true) {
      List<String> left = pipelineThreads();
      if (left.isEmpty()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("threads still running: " + left);
      }
      Thread.onSpinWait();
    }
  }
}
