package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.layerd.idmap.IdRemapper;
import io.layerd.idmap.SubIdFile;
import io.layerd.idmap.SubordinateIds;
import io.layerd.idmap.UnmappedIdException;
import io.layerd.idmap.UserAccount;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TarBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * One command line: usage errors, the exit-status table, JSON errors, the same message for a
 * missing input everywhere, help at any depth, examples in every help, the unmapped-id error as a
 * terminal shows it.
 */
class CommandLineTest {
  @TempDir Path tmp;

  /** Every command and subcommand, by its qualified name. */
  private static List<CommandLine> everyCommand() {
    List<CommandLine> out = new ArrayList<>();
    collect(Main.commandLine(), out);
    return out;
  }

  private static void collect(CommandLine c, List<CommandLine> out) {
    out.add(c);
    for (CommandLine s : c.getSubcommands().values()) {
      collect(s, out);
    }
  }

  @Test
  void everyHelpHasExamplesAndTheExitStatusTable() {
    for (CommandLine c : everyCommand()) {
      String name = c.getCommandSpec().qualifiedName();
      String help = c.getUsageMessage();
      assertTrue(help.contains("\nExamples:\n  "), name + " has no examples:\n" + help);
      assertTrue(help.contains("\nExit status:\n"), name + " has no exit status table");
      assertTrue(help.contains("  3   an owner outside the id mapping"), name + ":\n" + help);
      assertTrue(help.endsWith("\n"), name + "'s help does not end its last line");
      for (String example : help.substring(help.indexOf("\nExamples:\n") + 11).split("\n")) {
        assertTrue(example.startsWith("  "), name + ": an example wraps at 80 columns:\n" + help);
      }
    }
  }

  @Test
  void aUsageErrorIsOneLineAndAHint() {
    Cli.Run r = Cli.run("unpack", "--bogus", "a", "b");
    assertEquals(ExitCode.USAGE, r.code());
    assertEquals(
        List.of("layerctl unpack: Unknown option: '--bogus'", "  see 'layerctl unpack --help'"),
        r.err().lines().toList());
    assertEquals("", r.out());
    Cli.Run missing = Cli.run("image", "unpack", "only-one");
    assertEquals(ExitCode.USAGE, missing.code());
    assertEquals(2, missing.err().lines().count(), missing.err());
    assertTrue(missing.err().contains("see 'layerctl image unpack --help'"), missing.err());
  }

  @Test
  void aMistypedCommandIsSuggested() {
    Cli.Run r = Cli.run("unpak", "x", "y");
    assertEquals(ExitCode.USAGE, r.code());
    assertTrue(r.err().contains("did you mean: unpack"), r.err());
  }

  @Test
  void withJsonErrorsAreJsonOnStandardOutputToo() throws IOException {
    Cli.Run usage = Cli.run("check-ids", "--json", "--bogus", "x.tar");
    assertEquals(ExitCode.USAGE, usage.code());
    JsonNode u = usage.json().get("error");
    assertEquals(2, u.get("exitCode").asInt());
    assertEquals("usage", u.get("kind").asText());
    assertTrue(usage.err().contains("Unknown option"), usage.err());

    String absent = tmp.resolve("absent.tar").toString();
    Cli.Run missing = Cli.run("unpack", "--json", absent, tmp.resolve("d").toString());
    assertEquals(ExitCode.BAD_INPUT, missing.code());
    JsonNode m = missing.json().get("error");
    assertEquals("bad-input", m.get("kind").asText());
    assertEquals(
        "cannot read layer " + absent + ": no such file or directory", m.get("message").asText());
  }

  @Test
  void aMissingInputHasTheSameMessageInEveryCommand() {
    Path absent = tmp.resolve("absent.tar");
    String dest = tmp.resolve("d").toString();
    Map<String, Cli.Run> runs =
        Map.of(
            "layer",
            Cli.run("unpack", absent.toString(), dest),
            "image",
            Cli.run("image", "unpack", absent.toString(), dest),
            "input",
            Cli.run("check-ids", absent.toString()));
    for (Map.Entry<String, Cli.Run> e : runs.entrySet()) {
      Cli.Run r = e.getValue();
      assertEquals(ExitCode.BAD_INPUT, r.code(), r.err());
      assertTrue(
          r.err()
              .strip()
              .endsWith(
                  ": cannot read " + e.getKey() + " " + absent + ": no such file or directory"),
          r.err());
    }
    assertFalse(Files.exists(tmp.resolve("d")));
  }

  @Test
  void aCorruptLayerIsBadInputEverywhere() throws IOException {
    Path junk = Files.writeString(tmp.resolve("junk"), "not a layer at all");
    assertEquals(ExitCode.BAD_INPUT, Cli.run("check-ids", junk.toString()).code());
    assertEquals(
        ExitCode.BAD_INPUT, Cli.run("unpack", junk.toString(), tmp.resolve("d").toString()).code());
  }

  /**
   * A compressed layer that does not decompress (damaged, cut short, or followed by garbage) is bad
   * input too (exit 4), not a failure of the work (exit 1), whatever its compression.
   */
  @Test
  void aDamagedCompressedLayerIsBadInput() throws IOException {
    TarBuilder t = TarBuilder.create().file("etc/hostname", "box\n").file("bin/tool", 40_000);
    byte[] junk = "garbage after the data".getBytes(StandardCharsets.US_ASCII);
    Map<String, byte[]> layers = new java.util.LinkedHashMap<>();
    for (Map.Entry<String, byte[]> c :
        Map.of("gzip", t.gzip(), "zstd", t.zstd(), "xz", t.xz(), "bzip2", t.bzip2()).entrySet()) {
      byte[] b = c.getValue();
      byte[] trailing = java.util.Arrays.copyOf(b, b.length + junk.length);
      System.arraycopy(junk, 0, trailing, b.length, junk.length);
      layers.put(c.getKey() + " with trailing garbage", trailing);
      layers.put(c.getKey() + " cut short", java.util.Arrays.copyOf(b, b.length / 2));
      if (!c.getKey().equals("zstd")) { // a frame without a checksum may decode a flipped byte
        byte[] damaged = b.clone();
        damaged[b.length / 2] ^= 0x5a;
        layers.put(c.getKey() + " damaged", damaged);
      }
    }
    for (Map.Entry<String, byte[]> l : layers.entrySet()) {
      Path layer = Files.write(tmp.resolve("layer"), l.getValue());
      Cli.Run r = Cli.run("unpack", layer.toString(), tmp.resolve("d").toString());
      assertEquals(ExitCode.BAD_INPUT, r.code(), l.getKey() + ": " + r.err());
      assertFalse(Files.exists(tmp.resolve("d")), l.getKey());
    }
  }

  @Test
  void aWrongDigestIsBadInput() throws IOException {
    Path layer = tmp.resolve("l.tar");
    TarBuilder.create().file("f", "x").writeTo(layer);
    Cli.Run r =
        Cli.run(
            "unpack",
            "--digest",
            "sha256:" + "0".repeat(64),
            layer.toString(),
            tmp.resolve("d").toString());
    assertEquals(ExitCode.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("digest mismatch"), r.err());
  }

  @Test
  void helpReachesASubcommandAtAnyDepth() {
    Cli.Run r = Cli.run("help", "image", "unpack").ok();
    assertTrue(r.out().startsWith("Usage: layerctl image unpack "), r.out());
    Cli.Run bad = Cli.run("help", "image", "nope");
    assertEquals(ExitCode.USAGE, bad.code());
    assertTrue(bad.err().contains("no command 'nope' in 'layerctl image'"), bad.err());
  }

  @Test
  void versionIsACommandToo() {
    String flag = Cli.run("--version").ok().out();
    assertEquals(flag, Cli.run("version").ok().out());
    assertTrue(flag.startsWith("layerctl "), flag);
  }

  @Test
  void quietPrintsNoSummary() throws IOException {
    Path layer = tmp.resolve("l.tar");
    TarBuilder.create().file("f", "x").writeTo(layer);
    Cli.Run r = Cli.run("unpack", "-q", layer.toString(), tmp.resolve("d").toString()).ok();
    assertEquals("", r.out());
    assertTrue(Files.isRegularFile(tmp.resolve("d/f")));
    Cli.Run loud = Cli.run("unpack", layer.toString(), tmp.resolve("e").toString()).ok();
    assertTrue(loud.out().contains("unpacked into"), loud.out());
  }

  /** The unmapped-id error: a short first line, the details after it, no daemon to restart. */
  @Test
  void theUnmappedIdErrorReadsWellFromLayerctl() throws IOException {
    // 65,536 subordinate ids of each kind, applied inside their rootless layout
    SubIdFile sub = SubIdFile.parse(Path.of("/etc/subuid"), "layerd-test:165536:65536\n");
    SubIdFile subg = SubIdFile.parse(Path.of("/etc/subgid"), "layerd-test:165536:65536\n");
    SubordinateIds ids = SubordinateIds.of(new UserAccount("layerd-test", 1001, 1001), sub, subg);
    IdRemapper r =
        IdRemapper.builder().processMappings(ids.rootlessLayout()).subordinateIds(ids).build();
    UnmappedIdException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            UnmappedIdException.class, () -> r.owner("base.tar", "usr/app/data", 70000, 0));
    Errors.Report report = Errors.report(e);
    assertEquals(ExitCode.UNMAPPED_ID, report.exitCode());
    assertEquals(
        "\"usr/app/data\" in layer base.tar is owned by uid 70000, which the id mapping does not"
            + " cover",
        report.message());
    String details = String.join("\n", report.details());
    assertTrue(details.contains("--add-subuids"), details);
    assertTrue(details.contains("--add-subgids"), details);
    assertTrue(details.contains("then run the command again"), details);
    assertTrue(details.contains("--on-unmapped-id=squash"), details);
    assertFalse(details.contains("restart layerd"), details);
  }

  @Test
  void rmRefusesTheRootAndDots() {
    for (String d : List.of("/", ".", "..", tmp + "/..")) {
      assertEquals(ExitCode.USAGE, Cli.run("--rootless=false", "rm", d).code(), d);
    }
  }

  @Test
  void rmOfAMissingTree() {
    String absent = tmp.resolve("absent").toString();
    Cli.Run r = Cli.run("--rootless=false", "rm", absent);
    assertEquals(ExitCode.BAD_INPUT, r.code());
    assertTrue(r.err().contains("cannot remove " + absent + ": no such file"), r.err());
    Cli.run("--rootless=false", "rm", "-f", absent).ok();
  }

  @Test
  void rmRemovesATreeWithUnwritableDirectories() throws IOException {
    Path t = Files.createDirectories(tmp.resolve("t/a/b"));
    Files.writeString(t.resolve("f"), "x");
    Files.createSymbolicLink(tmp.resolve("t/link"), Path.of("/etc"));
    t.toFile().setWritable(false, false);
    Cli.run("--rootless=false", "rm", tmp.resolve("t").toString()).ok();
    assertFalse(Files.exists(tmp.resolve("t")));
    assertTrue(Files.exists(Path.of("/etc/hostname")) || Files.isDirectory(Path.of("/etc")));
  }

  /** As root there is no namespace to enter: the command runs as it is. */
  @RootTest
  void unshareRunsTheCommandAndPassesItsStatusOn() {
    assertEquals(7, Cli.run("unshare", "sh", "-c", "exit 7").code());
  }
}
