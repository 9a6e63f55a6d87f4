package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.unpack.BreakoutCases.Host;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The breakout validators would see an escape: each kind a vulnerable applier could commit. */
class HostSnapshotTest {
  @TempDir Path tmp;
  Host h;
  HostSnapshot before;

  @BeforeEach
  void setUp() throws IOException {
    h = new Host(tmp.resolve("host/sandbox"));
    BreakoutCases.prepareHost(h);
    before = HostSnapshot.of(tmp, h.root());
  }

  @Test
  void workInsideTheRootIsNotAChange() throws IOException {
    Files.writeString(h.root().resolve("file"), "x");
    Files.createSymbolicLink(h.root().resolve("link"), h.victim());
    assertEquals(List.of(), before.changes());
  }

  @Test
  void aHardlinkToAHostFileIsSeen() throws IOException {
    Files.createLink(h.root().resolve("grab"), h.victim().resolve("passwd"));
    assertTrue(before.changes().toString().contains("nlink=2"), before.changes().toString());
    assertThrows(AssertionError.class, () -> BreakoutTest.assertNoSecretInside(h.root()));
  }

  @Test
  void aChmodThroughASymlinkIsSeen() throws IOException {
    Files.setPosixFilePermissions(
        h.victim().resolve("perm400"), PosixFilePermissions.fromString("rw-r--r--"));
    assertTrue(before.changes().toString().contains("perm400"), before.changes().toString());
  }

  @Test
  void aFileWrittenBesideTheRootIsSeen() throws IOException {
    Files.writeString(h.sandbox().getParent().resolve("pwned"), "x");
    Files.writeString(h.victim().resolve("unbroken"), "unbroken");
    String changes = before.changes().toString();
    assertTrue(changes.contains("created: " + h.sandbox().getParent().resolve("pwned")), changes);
    assertTrue(changes.contains("created: " + h.victim().resolve("unbroken")), changes);
  }

  @Test
  void aTruncatedHostFileIsSeen() throws IOException {
    Files.writeString(h.victim().resolve("emptied"), "");
    assertEquals(1, before.changes().size(), before.changes().toString());
  }

  @Test
  void aRemovedHostFileIsSeen() throws IOException {
    Files.delete(h.victim().resolve("whitedout"));
    String changes = before.changes().toString();
    assertTrue(changes.contains("removed: " + h.victim().resolve("whitedout")), changes);
  }
}
