package io.layerd.idmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SubordinateIdsTest {
  private static final UserAccount TESTUSER = new UserAccount("testuser", 1001, 1001);

  private static SubordinateIds ids(String subuid, String subgid) {
    return SubordinateIds.of(
        TESTUSER,
        SubIdFile.parse(Path.of("/etc/subuid"), subuid),
        SubIdFile.parse(Path.of("/etc/subgid"), subgid));
  }

  @Test
  void suggestsTheNextFreeBlockAfterTheUsersRange() {
    // the Docker documentation's user: testuser:231072:65536; uid 70000 needs 4,464 more ids
    SubordinateIds s = ids("testuser:231072:65536\n", "testuser:231072:65536\n");
    assertEquals(Optional.empty(), s.suggest(IdKind.UID, 65536));
    assertEquals(
        Optional.of(new RangeSuggestion(IdKind.UID, 296608, 65536)), s.suggest(IdKind.UID, 70000));
    assertEquals(
        Optional.of(
            "sudo usermod --add-subuids 296608-362143 --add-subgids 296608-362143 testuser"),
        s.usermodCommand(70000, 70000));
    assertEquals(Optional.empty(), s.usermodCommand(65536, 100));
  }

  @Test
  void skipsRangesOfOtherUsers() {
    SubordinateIds s =
        ids(
            "testuser:165536:65536\nother:231072:65536\nthird:296608:1000\n",
            "testuser:165536:65536\n");
    // after 231071 comes other's 231072-296607 and third's 296608-297607
    assertEquals(
        Optional.of(new RangeSuggestion(IdKind.UID, 297608, 65536)), s.suggest(IdKind.UID, 70000));
    // the gid file is free right after the range
    assertEquals(
        Optional.of(new RangeSuggestion(IdKind.GID, 231072, 65536)), s.suggest(IdKind.GID, 70000));
    assertEquals(
        "--add-subuids 231072-296607",
        new RangeSuggestion(IdKind.UID, 231072, 65536).usermodArgument());
  }

  @Test
  void wholeBlocksCoverTheShortfall() {
    SubordinateIds s = ids("testuser:100000:65536\n", "");
    assertEquals(3 * 65536, s.suggest(IdKind.UID, 200000).orElseThrow().count());
    assertEquals(65536, s.suggest(IdKind.UID, 65537).orElseThrow().count());
  }

  @Test
  void userWithoutRangesStartsAtSubUidMin() {
    SubordinateIds s = ids("alice:100000:65536\n", "");
    assertEquals(
        Optional.of(new RangeSuggestion(IdKind.UID, 165536, 65536)), s.suggest(IdKind.UID, 65536));
    assertEquals(
        Optional.of(new RangeSuggestion(IdKind.GID, 100000, 65536)), s.suggest(IdKind.GID, 1));
  }

  @Test
  void rootlessLayoutAndOrigins() {
    SubordinateIds s = ids("alice:100000:65536\n1001:165536:65536\n", "testuser:165536:65536\n");
    IdMappings layout = s.rootlessLayout();
    assertEquals(
        List.of(new IdRange(0, 1001, 1), new IdRange(1, 165536, 65536)), layout.uids().ranges());
    List<RangeOrigin> o = s.explain(IdKind.UID, layout.uids());
    assertEquals("(testuser's own uid)", o.get(0).description());
    assertEquals("from /etc/subuid:2 \"1001:165536:65536\"", o.get(1).description());
    assertEquals(
        "1-65536 -> host 165536-231071 from /etc/subuid:2 \"1001:165536:65536\"",
        o.get(1).toString());
    // a namespace using another user's ids is named as such
    List<RangeOrigin> foreign = s.explain(IdKind.UID, IdMapping.of(new IdRange(0, 100000, 10)));
    assertTrue(foreign.get(0).description().endsWith("a range of another user"));
    List<RangeOrigin> none = s.explain(IdKind.UID, IdMapping.of(new IdRange(0, 900000, 10)));
    assertEquals("(in no line of /etc/subuid)", none.get(0).description());
  }
}
