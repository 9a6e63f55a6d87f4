package io.layerd.driver.overlay2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.engine.spi.Change;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The native diff over hand-made layer directories, in the {@code user.overlay.*} form (0/0
 * character devices may be made by any user since Linux 5.8, user.* xattrs by a file's owner): no
 * mount, no privileges.
 */
class UpperChangesTest {
  static final String PREFIX = "user.overlay.";

  @TempDir Path tmp;
  Path upper;
  Path p1; // the parent
  Path p2; // the grandparent

  @BeforeEach
  void dirs() throws IOException {
    upper = Files.createDirectory(tmp.resolve("upper"));
    p1 = Files.createDirectory(tmp.resolve("p1"));
    p2 = Files.createDirectory(tmp.resolve("p2"));
  }

  static void whiteout(Path p) throws IOException {
    Files.createDirectories(p.getParent());
    Sys.mknodat(Sys.AT_FDCWD, Names.bytes(p.toString()), Sys.S_IFCHR, 0, 0);
  }

  static void opaque(Path dir) throws IOException {
    Sys.lsetxattr(Names.bytes(dir.toString()), PREFIX + "opaque", new byte[] {'y'}, 0);
  }

  static void file(Path p, String content) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
  }

  List<String> changes() throws IOException {
    List<String> out = new ArrayList<>();
    for (Change c : UpperChanges.read(upper, List.of(p1, p2), PREFIX)) {
      out.add(c.toString());
    }
    return out;
  }

  @Test
  void whiteoutsDeleteWhatTheParentShowsAndNothingElse() throws IOException {
    file(p2.resolve("gone"), "g");
    file(p1.resolve("dir/also-gone"), "a");
    whiteout(upper.resolve("gone"));
    Files.createDirectory(upper.resolve("dir"));
    whiteout(upper.resolve("dir/also-gone"));
    whiteout(upper.resolve("never-was"));
    assertEquals(List.of("MODIFIED /dir", "DELETED /dir/also-gone", "DELETED /gone"), changes());
  }

  @Test
  void anOpaqueDirectoryDeletesEachNameOfTheParentsView() throws IOException {
    // The parent's view of d: x (p1), y (p2), z hidden by p1's whiteout, w hidden by p1's opaque d?
    file(p1.resolve("d/x"), "x");
    whiteout(p1.resolve("d/z"));
    file(p2.resolve("d/y"), "y");
    file(p2.resolve("d/z"), "z");
    file(p2.resolve("d/sub/deep"), "deep");
    Files.createDirectory(upper.resolve("d"));
    opaque(upper.resolve("d"));
    file(upper.resolve("d/new"), "n");
    file(upper.resolve("d/x"), "x again");
    assertEquals(
        List.of("MODIFIED /d", "ADDED /d/new", "DELETED /d/sub", "MODIFIED /d/x", "DELETED /d/y"),
        changes());
  }

  @Test
  void anOpaqueDirectoryInAParentHidesTheLayersBelowIt() throws IOException {
    file(p2.resolve("d/old"), "o");
    Files.createDirectories(p1.resolve("d"));
    opaque(p1.resolve("d"));
    file(p1.resolve("d/mid"), "m");
    Files.createDirectory(upper.resolve("d"));
    opaque(upper.resolve("d"));
    assertEquals(List.of("MODIFIED /d", "DELETED /d/mid"), changes());
    whiteout(upper.resolve("d/old")); // over nothing the parent shows
    assertEquals(List.of("MODIFIED /d", "DELETED /d/mid"), changes());
  }

  @Test
  void aNewDirectoryIsAddedWithAllItHolds() throws IOException {
    file(upper.resolve("n/a/b"), "b");
    Files.createSymbolicLink(upper.resolve("n/link"), Path.of("a/b"));
    assertEquals(List.of("ADDED /n", "ADDED /n/a", "ADDED /n/a/b", "ADDED /n/link"), changes());
  }

  @Test
  void aDirectoryCopiedUpUnchangedIsNotAChangeButItsModeIs() throws IOException {
    Files.createDirectories(p2.resolve("etc"));
    Files.createDirectories(upper.resolve("etc"));
    Sys.lsetxattr(Names.bytes(upper.resolve("etc").toString()), PREFIX + "origin", new byte[3], 0);
    assertEquals(List.of(), changes(), "overlay's own xattrs are not the directory's");
    Files.setPosixFilePermissions(
        upper.resolve("etc"), PosixFilePermissions.fromString("rwx------"));
    assertEquals(List.of("MODIFIED /etc"), changes());
  }

  @Test
  void escapedOverlayXattrsAreContent() throws IOException {
    Files.createDirectories(p1.resolve("d"));
    Files.createDirectories(upper.resolve("d"));
    Sys.lsetxattr(
        Names.bytes(upper.resolve("d").toString()), PREFIX + "overlay.mine", new byte[] {1}, 0);
    assertEquals(List.of("MODIFIED /d"), changes());
  }

  @Test
  void aFileThatBecameADirectoryIsModifiedAndItsContentsAdded() throws IOException {
    file(p1.resolve("x"), "was a file");
    file(p2.resolve("x/under"), "hidden by p1's file");
    file(upper.resolve("x/new"), "n");
    assertEquals(List.of("MODIFIED /x", "ADDED /x/new"), changes());
  }

  @Test
  void aFileInTheUpperDirectoryIsModifiedWhereTheParentHasIt() throws IOException {
    file(p2.resolve("etc/passwd"), "root");
    Files.createDirectories(upper.resolve("etc"));
    file(upper.resolve("etc/passwd"), "root\nuser");
    file(upper.resolve("etc/group"), "g");
    assertEquals(List.of("MODIFIED /etc", "ADDED /etc/group", "MODIFIED /etc/passwd"), changes());
  }

  @Test
  void aBaseLayerIsAllAdded() throws IOException {
    file(upper.resolve("a"), "a");
    whiteout(upper.resolve("b"));
    List<String> out = new ArrayList<>();
    for (Change c : UpperChanges.read(upper, List.of(), PREFIX)) {
      out.add(c.toString());
    }
    assertEquals(List.of("ADDED /a"), out);
  }

  @Test
  void namesAreBytes() throws IOException {
    byte[] name = {'f', (byte) 0xff, 'x'};
    Path u = upper;
    try (io.layerd.sys.Fd d = Sys.openDirectory(u.toString())) {
      int fd = Sys.openat(d.get(), name, Sys.O_CREAT | Sys.O_WRONLY, 0644);
      Sys.close(fd);
    }
    List<Change> c = UpperChanges.read(upper, List.of(p1), PREFIX);
    assertEquals(1, c.size());
    assertEquals(Change.Kind.ADDED, c.get(0).kind());
    assertEquals(List.of((byte) '/', (byte) 'f', (byte) 0xff, (byte) 'x'), bytes(c.get(0).path()));
  }

  private static List<Byte> bytes(byte[] b) {
    List<Byte> out = new ArrayList<>();
    for (byte x : b) {
      out.add(x);
    }
    return out;
  }
}
