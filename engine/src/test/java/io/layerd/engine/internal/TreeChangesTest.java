package io.layerd.engine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.layerd.engine.spi.Change;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.testkit.RootTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Docker's naive diff on trees made by hand: the same tree twice, then one difference. */
class TreeChangesTest {
  private static final FileTime T = FileTime.from(Instant.ofEpochSecond(1_700_000_000L));

  @TempDir Path tmp;
  Path oldTree;
  Path newTree;

  @BeforeEach
  void twoEqualTrees() throws IOException {
    oldTree = tmp.resolve("old");
    newTree = tmp.resolve("new");
    for (Path t : List.of(oldTree, newTree)) {
      Files.createDirectories(t.resolve("dir/sub"));
      file(t.resolve("dir/f"), "content");
      file(t.resolve("dir/sub/g"), "g");
      file(t.resolve("top"), "top!");
      Files.createSymbolicLink(t.resolve("link"), Path.of("top"));
      try (Fd d = Sys.openDirectory(t.toString())) {
        Sys.utimensat(
            d.get(),
            Names.bytes("link"),
            0,
            Sys.UTIME_OMIT,
            1_700_000_000L,
            0,
            Sys.AT_SYMLINK_NOFOLLOW);
      }
    }
  }

  private static void file(Path p, String content) throws IOException {
    Files.writeString(p, content);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
    Files.setLastModifiedTime(p, T);
  }

  private TreeChanges.Result compare() throws IOException {
    try (Fd n = Sys.openDirectory(newTree.toString());
        Fd o = Sys.openDirectory(oldTree.toString())) {
      return TreeChanges.compare(n.get(), o.get());
    }
  }

  private List<String> changes() throws IOException {
    return compare().changes().stream().map(Change::toString).toList();
  }

  @Test
  void equalTreesOfOtherInodesHaveNoChanges() throws IOException {
    assertEquals(List.of(), changes());
    assertEquals(0, compare().size());
  }

  @Test
  void anAddedFileAndItsParentDirectory() throws IOException {
    file(newTree.resolve("dir/sub/new"), "12345");
    assertEquals(List.of("MODIFIED /dir", "MODIFIED /dir/sub", "ADDED /dir/sub/new"), changes());
    assertEquals(5, compare().size());
  }

  @Test
  void everythingUnderAnAddedDirectoryIsAdded() throws IOException {
    Files.createDirectories(newTree.resolve("fresh/deeper"));
    file(newTree.resolve("fresh/deeper/x"), "xx");
    assertEquals(
        List.of("ADDED /fresh", "ADDED /fresh/deeper", "ADDED /fresh/deeper/x"), changes());
  }

  @Test
  void modifiedByMode() throws IOException {
    Files.setPosixFilePermissions(
        newTree.resolve("dir/f"), PosixFilePermissions.fromString("rw-------"));
    assertEquals(List.of("MODIFIED /dir", "MODIFIED /dir/f"), changes());
    assertEquals(7, compare().size(), "a modified file's whole size counts");
  }

  @Test
  void aDirectoryModifiedByModeIsListedThoughNothingInsideChanged() throws IOException {
    Files.setPosixFilePermissions(
        newTree.resolve("dir/sub"), PosixFilePermissions.fromString("rwx------"));
    assertEquals(List.of("MODIFIED /dir", "MODIFIED /dir/sub"), changes());
  }

  @Test
  void modifiedByMtime() throws IOException {
    Files.setLastModifiedTime(newTree.resolve("top"), FileTime.from(Instant.ofEpochSecond(5)));
    assertEquals(List.of("MODIFIED /top"), changes());
  }

  @Test
  void modifiedByNanosecondsOfMtime() throws IOException {
    try (Fd d = Sys.openDirectory(newTree.toString())) {
      Sys.utimensat(d.get(), Names.bytes("top"), 0, Sys.UTIME_OMIT, 1_700_000_000L, 1, 0);
    }
    assertEquals(List.of("MODIFIED /top"), changes());
  }

  @Test
  void aDirectoryMtimeAloneIsNoChange() throws IOException {
    Files.setLastModifiedTime(newTree.resolve("dir"), FileTime.from(Instant.ofEpochSecond(5)));
    assertEquals(List.of(), changes());
  }

  @Test
  void modifiedByXattr() throws IOException {
    try (Fd d = Sys.openDirectory(newTree.resolve("dir").toString())) {
      Sys.lsetxattrAt(d.get(), Names.bytes("f"), "user.layerd", new byte[] {1}, 0);
    }
    assertEquals(List.of("MODIFIED /dir", "MODIFIED /dir/f"), changes());
  }

  @Test
  void modifiedBySymlinkTarget() throws IOException {
    Files.delete(newTree.resolve("link"));
    Files.createSymbolicLink(newTree.resolve("link"), Path.of("tOp"));
    try (Fd d = Sys.openDirectory(newTree.toString());
        Fd o = Sys.openDirectory(oldTree.toString())) {
      // Same length, so only the target tells; make the times equal too.
      var st = Sys.fstatat(o.get(), Names.bytes("link"), Sys.AT_SYMLINK_NOFOLLOW);
      Sys.utimensat(
          d.get(),
          Names.bytes("link"),
          0,
          Sys.UTIME_OMIT,
          st.mtimeSec(),
          st.mtimeNsec(),
          Sys.AT_SYMLINK_NOFOLLOW);
    }
    assertEquals(List.of("MODIFIED /link"), changes());
  }

  @RootTest
  void modifiedByOwner() throws IOException {
    try (Fd d = Sys.openDirectory(newTree.resolve("dir/sub").toString())) {
      Sys.fchownat(d.get(), Names.bytes("g"), 1234, 1234, Sys.AT_SYMLINK_NOFOLLOW);
    }
    assertEquals(List.of("MODIFIED /dir", "MODIFIED /dir/sub", "MODIFIED /dir/sub/g"), changes());
  }

  @Test
  void onlyTheTopOfADeletedSubtreeIsListed() throws IOException {
    Files.delete(newTree.resolve("dir/sub/g"));
    Files.delete(newTree.resolve("dir/sub"));
    assertEquals(List.of("MODIFIED /dir", "DELETED /dir/sub"), changes());
    assertEquals(0, compare().size(), "deletions weigh nothing");
  }

  @Test
  void aFileThatBecameADirectory() throws IOException {
    Files.delete(newTree.resolve("top"));
    Files.createDirectory(newTree.resolve("top"));
    file(newTree.resolve("top/inside"), "i");
    assertEquals(List.of("MODIFIED /top", "ADDED /top/inside"), changes());
  }

  /** As Docker sorts them (Go string order): "/dir-a" comes between "/dir" and "/dir/0". */
  @Test
  void changesAreSortedByPathBytes() throws IOException {
    file(newTree.resolve("dir-a"), "1");
    file(newTree.resolve("a"), "1");
    file(newTree.resolve("dir/0"), "1");
    Files.delete(newTree.resolve("top"));
    assertEquals(
        List.of("ADDED /a", "MODIFIED /dir", "ADDED /dir-a", "ADDED /dir/0", "DELETED /top"),
        changes());
  }

  @Test
  void aHardlinkedInodeIsCountedOnce() throws IOException {
    file(newTree.resolve("big"), "0123456789");
    Files.createLink(newTree.resolve("big2"), newTree.resolve("big"));
    assertEquals(List.of("ADDED /big", "ADDED /big2"), changes());
    assertEquals(10, compare().size());
  }

  @Test
  void againstAnEmptyTreeEverythingIsAdded() throws IOException {
    try (Fd n = Sys.openDirectory(newTree.toString())) {
      TreeChanges.Result r = TreeChanges.compare(n.get(), -1);
      assertEquals(
          List.of(
              "ADDED /dir",
              "ADDED /dir/f",
              "ADDED /dir/sub",
              "ADDED /dir/sub/g",
              "ADDED /link",
              "ADDED /top"),
          r.changes().stream().map(Change::toString).toList());
      assertEquals(7 + 1 + 4, r.size());
    }
  }
}
