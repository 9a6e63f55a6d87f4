package io.layerd.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerStoreTest {
  @TempDir Path root;

  @Test
  void aSecondOpenNamesTheHolder() throws IOException {
    try (LayerStore first = LayerStore.open(root)) {
      DataRootException e = assertThrows(DataRootException.class, () -> LayerStore.open(root));
      String m = e.getMessage();
      assertTrue(m.contains("in use by another layerd process"), m);
      assertTrue(m.contains("pid " + ProcessHandle.current().pid()), "names the holder: " + m);
      assertTrue(m.contains("--data-root"), "says what to do: " + m);
      assertEquals(root, first.root());
    }
    try (LayerStore again = LayerStore.open(root)) {
      assertEquals(0, again.all().size(), "the lock is released on close");
    }
  }

  @Test
  void recordsArePublishedByRenameAndReadBack() throws IOException {
    try (LayerStore s = LayerStore.open(root)) {
      s.put(new LayerMeta("a", null, false, "sha256:aa", 3, 1, false));
      s.put(new LayerMeta("b", "a", true, null, 0, 2, true));
      assertEquals(java.util.List.of("b"), s.children("a"));
      try (var st = Files.list(s.staging())) {
        assertEquals(0, st.count(), "no temporary record is left");
      }
    }
    try (LayerStore s = LayerStore.open(root)) {
      assertEquals("sha256:aa", s.get("a").orElseThrow().diffId());
      assertTrue(s.get("b").orElseThrow().applying());
      s.delete("b");
      assertTrue(s.get("b").isEmpty());
    }
  }

  @Test
  void recordIdsAreChecked() throws IOException {
    try (LayerStore s = LayerStore.open(root)) {
      assertThrows(
          IllegalArgumentException.class,
          () -> s.put(new LayerMeta("../x", null, false, null, 0, 0, false)));
    }
  }
}
