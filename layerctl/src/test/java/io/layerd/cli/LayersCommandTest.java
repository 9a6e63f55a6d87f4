package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.engine.Engine;
import io.layerd.engine.EngineConfig;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** {@code layerctl layers} offline, on a data-root made by the engine. */
class LayersCommandTest {
  @TempDir Path tmp;

  private static final String BASE = "a".repeat(64);
  private static final String RW = "b".repeat(64) + "-init";

  private Path dataRoot() throws IOException {
    Path root = tmp.resolve("root");
    try (Engine e = Engine.open(EngineConfig.of(root, "vfs"))) {
      e.create(BASE, null);
      e.applyDiff(
          BASE, null, new ByteArrayInputStream(TarBuilder.create().file("f", "hello").build()));
      e.createReadWrite(RW, BASE);
    }
    return root;
  }

  @RootTest
  void listInspectRemoveOffline() throws IOException {
    Path root = dataRoot();
    JsonNode ls = Cli.run("layers", "--data-root", root.toString(), "ls", "--json").ok().json();
    assertEquals(2, ls.size(), ls.toString());
    assertEquals(BASE, ls.get(0).get("id").asText());
    assertEquals("ro", ls.get(0).get("kind").asText());
    assertEquals(5, ls.get(0).get("size").asLong());
    assertEquals(BASE, ls.get(1).get("parent").asText());
    assertEquals("rw", ls.get(1).get("kind").asText());

    String table = Cli.run("layers", "--data-root", root.toString(), "ls").ok().out();
    assertTrue(table.contains("aaaaaaaaaaaa ") && table.contains("bbbbbbbbbbbb-init"), table);

    JsonNode inspect =
        Cli.run("layers", "--data-root", root.toString(), "inspect", BASE).ok().json();
    assertEquals(RW, inspect.get(0).get("children").get(0).asText());

    Cli.Run busy = Cli.run("layers", "--data-root", root.toString(), "rm", BASE);
    assertEquals(1, busy.code());
    assertTrue(busy.err().contains("has child layers"), busy.err());
    Cli.run("layers", "--data-root", root.toString(), "rm", RW, BASE).ok();
    ls = Cli.run("layers", "--data-root", root.toString(), "ls", "--json").ok().json();
    assertEquals(0, ls.size(), ls.toString());
  }

  /** A running layerd holds the data-root: offline use says to ask the daemon instead. */
  @RootTest
  void aDataRootInUsePointsAtTheSocket() throws IOException {
    Path root = dataRoot();
    try (Engine held = Engine.open(EngineConfig.of(root, "vfs"))) {
      assertFalse(held.store().all().isEmpty());
      Cli.Run r = Cli.run("layers", "--data-root", root.toString(), "ls");
      assertEquals(1, r.code());
      assertTrue(r.err().contains("in use by another layerd process"), r.err());
      assertTrue(r.err().contains("layerctl layers --socket PATH"), r.err());
    }
  }

  @RootTest
  void noDataRoot() {
    Cli.Run r = Cli.run("layers", "--data-root", tmp.resolve("none").toString(), "ls");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("no layerd data-root at"), r.err());
  }
}
