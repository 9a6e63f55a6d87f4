package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TarBuilder.Format;
import io.layerd.testkit.TreeManifest.Entry;
import io.layerd.testkit.TreeManifest.Options;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.io.TempDir;

/**
 * TarBuilder and TreeManifest against a real peer: GNU tar extracts archives that TarBuilder wrote
 * (PAX and GNU formats), and the manifest of what it made must be exactly the tree written down
 * here by hand. A wrong header field, a wrong PAX record or a wrong manifest field shows up as a
 * difference.
 */
class GnuTarCrossCheckTest {
  static final long MTIME = TarBuilder.DEFAULT_MTIME;
  static final long HUGE = (1L << 31) + 5;
  static final byte[] LATIN1 = {'c', 'a', 'f', (byte) 0xe9};
  static final String LONG =
      "usr/share/" + "long-directory-name-".repeat(3) + "/" + "file-".repeat(25) + "end";

  /** A version 2 file capability: effective, permitted CAP_NET_RAW (13). */
  static final byte[] CAP_NET_RAW = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

  @TempDir Path tmp;

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static TarBuilder layer(Format format) {
    return TarBuilder.create(format)
        .dir("etc/")
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .mode(0640)
        .gid(42)
        .xattr("user.mime", "text/plain")
        .dir("bin/")
        .file("bin/ping", 5000)
        .mode(04755)
        .owner(185992, 70000)
        .xattr("security.capability", CAP_NET_RAW)
        .file("bin/busybox", "busybox")
        .mode(0755)
        .hardlink("bin/ls", "bin/busybox")
        .symlink("bin/sh", "busybox")
        .dir("dev/")
        .charDevice("dev/null", 1, 3)
        .mode(0666)
        .blockDevice("dev/loop0", 7, 0)
        .mode(0660)
        .dir("run/")
        .mode(0700)
        .fifo("run/fifo")
        .mode(0600)
        .dir("usr/")
        .dir("usr/share/")
        .dir("usr/share/" + "long-directory-name-".repeat(3) + "/")
        .file(LONG, "long")
        .mtime(1_650_000_000L, 123_456_789)
        .file(LATIN1, "latin")
        .file("big-ids", "")
        .owner(HUGE, HUGE + 1)
        .dir("opaque/")
        .xattr("trusted.overlay.opaque", "y");
  }

  static Entry entry(
      String path,
      TreeManifest.Type type,
      int mode,
      long uid,
      long gid,
      Map<String, String> xattrs) {
    return new Entry(
        path, type, mode, uid, gid, null, null, null, null, null, null, MTIME, 0, xattrs);
  }

  static Entry file(String path, byte[] content, int mode, long uid, long gid) {
    return Entry.file(path, content, mode, uid, gid).withMtime(MTIME, 0);
  }

  /** The tree that {@link #layer} describes, written out by hand. */
  static TreeManifest expected() {
    List<Entry> e = new ArrayList<>();
    Map<String, String> none = Map.of();
    e.add(
        new Entry(
            ".",
            TreeManifest.Type.DIR,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null));
    e.add(entry("etc", TreeManifest.Type.DIR, 0755, 0, 0, none));
    e.add(
        file("etc/passwd", b("root:x:0:0::/root:/bin/sh\n"), 0640, 0, 42)
            .withXattrs(Map.of("user.mime", "\"text/plain\"")));
    e.add(entry("bin", TreeManifest.Type.DIR, 0755, 0, 0, none));
    e.add(
        file("bin/ping", TarBuilder.generatedContent(5000), 04755, 185992, 70000)
            .withXattrs(
                Map.of("security.capability", "0x0100000200200000000000000000000000000000")));
    e.add(file("bin/busybox", b("busybox"), 0755, 0, 0).withHardlink("bin/busybox"));
    e.add(file("bin/ls", b("busybox"), 0755, 0, 0).withHardlink("bin/busybox"));
    e.add(Entry.symlink("bin/sh", "busybox", 0, 0).withMtime(MTIME, 0));
    e.add(entry("dev", TreeManifest.Type.DIR, 0755, 0, 0, none));
    e.add(Entry.special("dev/null", TreeManifest.Type.CHAR, 0666, 0, 0, 1, 3).withMtime(MTIME, 0));
    e.add(
        Entry.special("dev/loop0", TreeManifest.Type.BLOCK, 0660, 0, 0, 7, 0).withMtime(MTIME, 0));
    e.add(entry("run", TreeManifest.Type.DIR, 0700, 0, 0, none));
    e.add(Entry.special("run/fifo", TreeManifest.Type.FIFO, 0600, 0, 0, 0, 0).withMtime(MTIME, 0));
    e.add(entry("usr", TreeManifest.Type.DIR, 0755, 0, 0, none));
    e.add(entry("usr/share", TreeManifest.Type.DIR, 0755, 0, 0, none));
    e.add(
        entry(
            "usr/share/" + "long-directory-name-".repeat(3),
            TreeManifest.Type.DIR,
            0755,
            0,
            0,
            none));
    e.add(file(LONG, b("long"), 0644, 0, 0).withMtime(1_650_000_000L, 123_456_789));
    e.add(file("caf\\xe9", b("latin"), 0644, 0, 0));
    e.add(file("big-ids", new byte[0], 0644, HUGE, HUGE + 1));
    e.add(
        entry(
            "opaque",
            TreeManifest.Type.DIR,
            0755,
            0,
            0,
            new TreeMap<>(Map.of("trusted.overlay.opaque", "\"y\""))));
    return TreeManifest.ofEntries(e);
  }

  void extractAndCompare(Format format) throws IOException {
    Path tar = tmp.resolve(format + ".tar");
    layer(format).writeTo(tar);
    Path out = Files.createDirectories(tmp.resolve(format.toString()));
    List<String> cmd =
        List.of(
            "tar",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-xpf",
            tar.toString(),
            "-C",
            out.toString());
    Exec.Outcome o = Exec.run(cmd, Duration.ofMinutes(1));
    assertTrue(o.ok(), o.describe(cmd));
    TreeManifest actual = TreeManifest.of(out, Options.builder().ignoreRootAttributes().build());
    TreeManifest.assertSame(expected(), actual);
  }

  @EndToEndTest
  void gnuTarExtractsThePaxArchiveAsExpected() throws IOException {
    Require.root();
    Require.command("tar");
    extractAndCompare(Format.PAX);
  }

  @EndToEndTest
  void gnuTarExtractsTheGnuArchiveAsExpected() throws IOException {
    Require.root();
    Require.command("tar");
    extractAndCompare(Format.GNU);
  }
}
