package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.daemon.containerd.DiffCompression;
import io.layerd.idmap.IdMapping;
import io.layerd.idmap.IdMappings;
import io.layerd.idmap.internal.RootlessNamespace;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** layerd's command line: option names shared with layerctl, help, the rootless start line. */
class MainTest {
  private static Main parse(String... args) {
    CommandLine cl = Main.commandLine();
    cl.parseArgs(args);
    return cl.getCommand();
  }

  @Test
  void onUnmappedIdIsLayerctlsNameAndTheOldOneStillWorks() {
    assertEquals("squash", parse("--on-unmapped-id", "squash").unmappedIds);
    assertEquals("skip", parse("--unmapped-ids=skip").unmappedIds);
    String help = Main.commandLine().getUsageMessage();
    assertTrue(help.contains("--on-unmapped-id="), help);
    assertFalse(help.contains("--unmapped-ids"), help);
    assertTrue(help.contains("\nExamples:\n"), help);
  }

  @Test
  void diffCompressionIsFastOrSmallAndAnythingElseIsOneLineNamingBoth() {
    assertEquals(
        DiffCompression.SMALL, parse("--diff-compression", "small").engine.diffCompression);
    assertNull(parse().engine.diffCompression, "not given: the config file's, else fast");
    CommandLine cl = Main.commandLine();
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    assertEquals(2, cl.execute("--diff-compression", "smallest"));
    String[] lines = err.toString().split("\n");
    assertTrue(
        lines[0].contains("--diff-compression")
            && lines[0].contains("fast or small")
            && lines[0].contains("smallest"),
        err.toString());
    assertTrue(lines.length <= 2, "a usage error is short:\n" + err);
  }

  @Test
  void theStartLineSaysRootlessAndTheMapping() {
    IdMapping m = IdMapping.parseProcMap("0 1000 1\n1 100000 65536\n");
    String line =
        Main.rootlessSummary(new IdMappings(m, m), Map.of(RootlessNamespace.CHILD_ENV, "1"));
    assertEquals(
        "running rootless in a user namespace that layerd entered itself (newuidmap, newgidmap"
            + " over /etc/subuid, /etc/subgid): uids 0 -> host 1000, 1-65536 -> host"
            + " 100000-165535; gids 0 -> host 1000, 1-65536 -> host 100000-165535",
        line);
    assertTrue(
        Main.rootlessSummary(new IdMappings(m, m), Map.of("ROOTLESSKIT_STATE_DIR", "/x"))
            .contains("made by rootlesskit"));
    assertNull(Main.rootlessSummary(IdMappings.identity(), Map.of()));
  }
}
