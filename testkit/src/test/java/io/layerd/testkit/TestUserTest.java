package io.layerd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TestUserTest {

  /** The lines of /etc/subuid or /etc/subgid as {owner, start, count}. */
  static List<String[]> entries(String file) throws IOException {
    return Files.readAllLines(Path.of(file), StandardCharsets.UTF_8).stream()
        .map(l -> l.strip().split(":"))
        .filter(f -> f.length == 3)
        .toList();
  }

  static void assertOwnsExactlyOneRange(TestUser u, String file, long start, long count)
      throws IOException {
    long overlapping = 0;
    long mine = 0;
    for (String[] f : entries(file)) {
      long s = Long.parseLong(f[1]);
      long c = Long.parseLong(f[2]);
      boolean ours = f[0].equals(u.name()) || f[0].equals(Long.toString(u.uid()));
      if (ours) {
        mine++;
        assertEquals(start, s, file);
        assertEquals(count, c, file);
      } else if (s < start + count && start < s + c) {
        overlapping++;
      }
    }
    assertEquals(1, mine, u.name() + " has one range in " + file);
    assertEquals(0, overlapping, u.name() + "'s range in " + file + " overlaps another");
  }

  @RootTest
  void theStandardUserHas65536SubordinateIds() throws IOException {
    TestUser u = TestUser.standard();
    assertEquals("layerd-test", u.name());
    assertTrue(u.uid() >= 1000, u.toString());
    assertTrue(u.gid() >= 1000, u.toString());
    assertEquals(65_536, u.subuidCount());
    assertEquals(65_536, u.subgidCount());
    assertTrue(u.subuidStart() >= 100_000, u.toString());
    assertOwnsExactlyOneRange(u, "/etc/subuid", u.subuidStart(), u.subuidCount());
    assertOwnsExactlyOneRange(u, "/etc/subgid", u.subgidStart(), u.subgidCount());
    Stat home = Sys.lstat(u.home().toString());
    assertTrue(home.isDirectory());
    assertEquals(u.uid(), home.uid(), "the home belongs to the user");
    assertSame(u, TestUser.standard(), "cached");
    assertTrue(u.toString().startsWith("layerd-test(uid=" + u.uid()), u.toString());
  }

  @RootTest
  void aUserWithMoreIds() throws IOException {
    TestUser big = TestUser.withIds("layerd-big", 300_000);
    assertEquals("layerd-big", big.name());
    assertTrue(big.subuidCount() >= 300_000, big.toString());
    assertTrue(big.subgidCount() >= 300_000, big.toString());
    assertOwnsExactlyOneRange(big, "/etc/subuid", big.subuidStart(), big.subuidCount());
    assertOwnsExactlyOneRange(big, "/etc/subgid", big.subgidStart(), big.subgidCount());
    TestUser std = TestUser.standard();
    assertFalse(
        big.subuidStart() < std.subuidStart() + std.subuidCount()
            && std.subuidStart() < big.subuidStart() + big.subuidCount(),
        big + " overlaps " + std);
    assertSame(big, TestUser.withIds("layerd-big", 100_000), "a larger range serves a smaller ask");
  }

  @Test
  void argumentsAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> TestUser.withIds("Bad Name", 10));
    assertThrows(IllegalArgumentException.class, () -> TestUser.withIds("../etc", 10));
    assertThrows(IllegalArgumentException.class, () -> TestUser.withIds("layerd-x", 0));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> TestUser.withIds("layerd-test", 100_000));
    assertTrue(e.getMessage().contains("layerd-test"), e.getMessage());
  }
}
