package io.layerd.engine.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LayerIdsTest {
  @Test
  void acceptsDockerAndContainerdIds() {
    String hex = "a".repeat(64);
    assertEquals(hex, LayerIds.check(hex));
    assertEquals(hex + "-init", LayerIds.check(hex + "-init"));
    assertEquals("sha256.abc_DEF-1", LayerIds.check("sha256.abc_DEF-1"));
    assertEquals("x".repeat(LayerIds.MAX_LENGTH), LayerIds.check("x".repeat(LayerIds.MAX_LENGTH)));
  }

  @Test
  void rejectsSlashesDotDotNulAndOversizeIds() {
    assertRejected("a/b", "'/'");
    assertRejected("../etc", "'/'");
    assertRejected("/abs", "'/'");
    assertRejected("..", "not a layer id");
    assertRejected(".", "not a layer id");
    assertRejected("nul\0byte", "\\x00");
    assertRejected("x".repeat(LayerIds.MAX_LENGTH + 1), "longer than");
    assertRejected("", "empty");
    assertRejected("new\nline", "\\x0a");
    assertRejected("space here", "' '");
    assertThrows(IllegalArgumentException.class, () -> LayerIds.check(null));
  }

  private static void assertRejected(String id, String messagePart) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LayerIds.check(id), id);
    assertTrue(e.getMessage().contains(messagePart), e.getMessage());
    assertTrue(!e.getMessage().contains("\0"), "the message shows no raw NUL");
  }
}
