package io.layerd.idmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.idmap.Problems.Problem;
import io.layerd.idmap.Problems.Severity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /etc/subuid and /etc/subgid as shadow reads them. */
class SubIdFileTest {
  private static final Path F = Path.of("/etc/subuid");

  private static SubIdFile parse(String text) {
    return SubIdFile.parse(F, text);
  }

  private static Problem only(SubIdFile f) {
    assertEquals(1, f.problems().all().size(), () -> f.problems().toString());
    return f.problems().all().get(0);
  }

  private static void assertError(String text, int line, String fragment) {
    SubIdFile f = parse(text);
    Problem p = only(f);
    assertEquals(Severity.ERROR, p.severity(), p::toString);
    assertEquals(line, p.line(), p::toString);
    assertTrue(p.message().contains(fragment), () -> p + " should say " + fragment);
    assertTrue(p.toString().startsWith("/etc/subuid:" + line + ": error: "), p::toString);
  }

  @Test
  void whatUseraddWrites() {
    SubIdFile f = parse("alice:100000:65536\nbob:165536:65536\n");
    assertTrue(f.present());
    assertTrue(f.problems().isEmpty());
    assertEquals(
        List.of(
            new SubIdRange("alice", 100000, 65536, F, 1),
            new SubIdRange("bob", 165536, 65536, F, 2)),
        f.ranges());
    assertEquals("/etc/subuid:2", f.ranges().get(1).where());
  }

  @Test
  void severalRangesOfOneOwnerStayInFileOrder() {
    // the shape of shadow's tests/libsubid list_ranges fixture
    SubIdFile f = parse("foo:400000:10000\nbar:100000:5\nfoo:300000:10000\n");
    List<SubIdRange> foo = f.rangesFor("foo", 1234);
    assertEquals(List.of(400000L, 300000L), foo.stream().map(SubIdRange::start).toList());
    assertEquals(List.of(1, 3), foo.stream().map(SubIdRange::line).toList());
    assertEquals(20000, f.countFor("foo", 1234));
  }

  @Test
  void ownerByNameOrByNumericUid() {
    SubIdFile f = parse("1001:200000:1000\ntestuser:100000:65536\n10010:300000:5\n");
    List<SubIdRange> r = f.rangesFor("testuser", 1001);
    assertEquals(List.of("1001", "testuser"), r.stream().map(SubIdRange::owner).toList());
    assertEquals(66536, f.countFor("testuser", 1001));
    assertEquals(0, f.countFor("other", 1002));
  }

  @Test
  void commentsAndBlankLinesAreSkipped() {
    SubIdFile f =
        parse("# subordinate uids\n\n   \n\t\n  # indented comment\nalice:100000:65536\n");
    assertTrue(f.problems().isEmpty(), f.problems()::toString);
    assertEquals(1, f.ranges().size());
    assertEquals(6, f.ranges().get(0).line());
  }

  @Test
  void noFinalNewline() {
    SubIdFile f = parse("alice:100000:65536");
    assertEquals(1, f.ranges().size());
    assertTrue(f.problems().isEmpty());
  }

  @Test
  void leadingWhiteSpaceInNumbersIsAcceptedAsStrtoulDoes() {
    SubIdFile f = parse("alice: 100000:\t65536\n");
    assertTrue(f.problems().isEmpty(), f.problems()::toString);
    assertEquals(65536, f.ranges().get(0).count());
  }

  @Test
  void trailingWhiteSpaceMakesShadowIgnoreTheLine() {
    assertError("alice:100000:65536 \n", 1, "white space after it");
  }

  @Test
  void dosLineEnding() {
    assertError("alice:100000:65536\r\n", 1, "carriage return");
  }

  @Test
  void missingField() {
    assertError(
        "alice:100000:65536\nbob:165536\n", 2, "expected owner:start:count but found 2 fields");
    assertError("bob\n", 1, "found 1 field ");
  }

  @Test
  void emptyField() {
    assertError(":100000:65536\n", 1, "owner field is empty");
    assertError("alice::65536\n", 1, "start field is empty");
    assertError("alice:100000:\n", 1, "count field is empty");
  }

  @Test
  void nonNumeric() {
    assertError("alice:lots:65536\n", 1, "start \"lots\" is not a number");
    assertError("alice:100000:64k\n", 1, "count \"64k\"");
    assertError("alice:1e5:65536\n", 1, "start \"1e5\"");
    assertError("alice:08:65536\n", 1, "start \"08\""); // octal to shadow: 8 is not a digit
  }

  @Test
  void negative() {
    assertError("alice:-1:65536\n", 1, "negative");
  }

  @Test
  void zeroCount() {
    assertError("alice:100000:0\n", 1, "count is 0");
  }

  @Test
  void overflowPast32Bits() {
    assertError("alice:4294967295:1\n", 1, "past 4294967294");
    assertError("alice:4294901760:65536\n", 1, "4294901760-4294967295");
    assertError("alice:1:4294967295\n", 1, "past 4294967294");
    assertError("alice:100000:99999999999999999999999\n", 1, "too large");
    // the last valid id is fine
    SubIdFile f = parse("alice:4294901759:65536\n");
    assertTrue(f.problems().isEmpty(), f.problems()::toString);
    assertEquals(4294967294L, f.ranges().get(0).last());
  }

  @Test
  void hexAndOctalAreReadAsShadowReadsThemWithAWarning() {
    SubIdFile f = parse("alice:0x186a0:0200000\n");
    assertEquals(100000, f.ranges().get(0).start());
    assertEquals(65536, f.ranges().get(0).count());
    assertEquals(2, f.problems().warnings().size());
    assertFalse(f.problems().hasErrors());
    assertTrue(f.problems().toString().contains("hexadecimal"));
    assertTrue(f.problems().toString().contains("octal"));
  }

  @Test
  void extraFieldsAreIgnoredWithAWarning() {
    SubIdFile f = parse("alice:100000:65536:comment\n");
    assertEquals(1, f.ranges().size());
    Problem p = only(f);
    assertEquals(Severity.WARNING, p.severity());
    assertTrue(p.message().contains("after the third field"));
  }

  @Test
  void ownerWithSpacesNeverMatches() {
    SubIdFile f = parse(" alice:100000:65536\n");
    assertEquals(Severity.WARNING, only(f).severity());
    assertTrue(f.rangesFor("alice", 1000).isEmpty());
    assertTrue(f.problems().toString().contains("never applies to \"alice\""));
  }

  @Test
  void overlapsBetweenUsersAreWarnedOnTheLaterLine() {
    // shadow's get_subid_owners fixture shape: foo and root share 500000-500999
    SubIdFile f = parse("foo:300000:10000\nfoo:400000:10000\nfoo:500000:10000\nroot:500000:1000\n");
    Problem p = only(f);
    assertEquals(Severity.WARNING, p.severity());
    assertEquals(4, p.line());
    assertTrue(
        p.message().contains("\"root\" overlaps the range 500000-509999 of \"foo\" at line 3"),
        p::toString);
    assertTrue(p.message().contains("500000-500999"), p::toString);
    assertEquals(4, f.ranges().size(), "overlapping lines are still granted by shadow");
  }

  @Test
  void overlapWithinOneOwnerIsWarnedAsUnmappable() {
    SubIdFile f = parse("alice:100000:65536\nalice:165535:10\n");
    Problem p = only(f);
    assertEquals(2, p.line());
    assertTrue(p.message().contains("same owner"), p::toString);
    assertTrue(p.message().contains("ids 165535)"), p::toString);
  }

  @Test
  void adjacentRangesDoNotOverlap() {
    assertTrue(parse("a:100000:65536\nb:165536:65536\n").problems().isEmpty());
  }

  @Test
  void oneBadLineDoesNotHideTheOthers() {
    SubIdFile f = parse("alice:100000:65536\nbob:x:1\ncarol:300000:65536\n");
    assertEquals(List.of("alice", "carol"), f.ranges().stream().map(SubIdRange::owner).toList());
    assertEquals(1, f.problems().errors().size());
  }

  @Test
  void missingFileIsEmptyAndNotPresent(@TempDir Path dir) throws IOException {
    SubIdFile f = SubIdFile.parse(dir.resolve("subuid"));
    assertFalse(f.present());
    assertTrue(f.ranges().isEmpty());
    assertTrue(f.problems().isEmpty());
  }

  @Test
  void readsTheFileAndNamesItInProblems(@TempDir Path dir) throws IOException {
    Path p = dir.resolve("subgid");
    Files.writeString(p, "alice:100000:65536\nbroken\n");
    SubIdFile f = SubIdFile.parse(p);
    assertEquals(p, f.ranges().get(0).source());
    assertEquals(
        List.of(p + ":2: error: expected owner:start:count but found 1 field in \"broken\""),
        f.problems().all().stream().map(Problem::toString).collect(Collectors.toList()));
  }

  @Test
  void overlappingLookup() {
    SubIdFile f = parse("a:100000:65536\nb:165536:65536\n");
    assertEquals(
        List.of("a", "b"), f.overlapping(165535, 2).stream().map(SubIdRange::owner).toList());
    assertTrue(f.overlapping(231072, 10).isEmpty());
  }
}
