package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** A run registers only the subcommand it names; usage and help still see every one. */
class MainTest {
  @Test
  void eachSubcommandIsRegisteredUnderItsOwnName() {
    for (Map.Entry<String, java.util.function.Supplier<Object>> c : Main.SUBCOMMANDS.entrySet()) {
      CommandLine one = new CommandLine(c.getValue().get());
      assertEquals(c.getKey(), one.getCommandName(), "the name its @Command gives it");
    }
    assertEquals(
        List.copyOf(Main.SUBCOMMANDS.keySet()),
        List.copyOf(Main.commandLine().getSubcommands().keySet()),
        "the full command line has them all, in order");
  }

  @Test
  void theNamedSubcommandIsFoundOnlyWhenCertain() {
    assertEquals("unpack", Main.subcommandNamed(new String[] {"unpack", "a.tar", "out"}));
    assertEquals("image", Main.subcommandNamed(new String[] {"--rootless", "false", "image"}));
    assertEquals("layers", Main.subcommandNamed(new String[] {"--rootless=auto", "layers", "ls"}));
    assertNull(Main.subcommandNamed(new String[] {}), "usage lists every subcommand");
    assertNull(Main.subcommandNamed(new String[] {"help", "unpack"}), "help looks at the others");
    assertNull(Main.subcommandNamed(new String[] {"unpak"}), "a suggestion needs them all");
    assertEquals("version", Main.subcommandNamed(new String[] {"--version"}), "only version");
    assertNull(Main.subcommandNamed(new String[] {"--rootless"}));
  }

  @Test
  void aRunWithOneSubcommandParsesAsTheFullCommandLine() {
    String[] args = {"--rootless=false", "unpack", "--json", "--whiteouts=keep", "a.tar", "out"};
    CommandLine.ParseResult full = Main.commandLine().parseArgs(args);
    CommandLine.ParseResult lazy = Main.commandLine(Main.subcommandNamed(args)).parseArgs(args);
    assertEquals(
        full.subcommand().matchedOptions().stream()
            .map(o -> o.longestName() + "=" + o.getValue())
            .toList(),
        lazy.subcommand().matchedOptions().stream()
            .map(o -> o.longestName() + "=" + o.getValue())
            .toList());
    assertEquals(
        full.subcommand().matchedPositionals().stream().map(p -> p.getValue().toString()).toList(),
        lazy.subcommand().matchedPositionals().stream().map(p -> p.getValue().toString()).toList());
  }
}
