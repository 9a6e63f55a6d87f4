package io.layerd.cli;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code layerctl}: offline unpacking of layers and images, and rootless diagnostics. */
@Command(
    name = "layerctl",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description =
        "Unpack container layers and images into a directory, and check rootless set-ups.",
    footerHeading = "%nExamples:%n",
    footer = {
      "  layerctl image unpack busybox.tar rootfs     # OCI layout or docker save",
      "  layerctl unpack layer1.tar.gz layer2.tar.zst rootfs",
      "  layerctl check-ids image.tar                 # do its owners fit my ids?",
      "  layerctl doctor                              # every rootless prerequisite",
      "  layerctl rm rootfs                           # a rootless unpack's tree",
      "  layerctl help image unpack                   # a command's help"
    })
public final class Main implements Runnable {
  /**
   * The subcommands, by the names their {@code @Command} gives them, in the order help lists them.
   * They are added in code rather than in the annotation so that a run builds the model of the one
   * it uses only: picocli reads every registered command's annotations (and makes its object) at
   * start, which for all of them took longer than the JVM's own start.
   */
  static final Map<String, Supplier<Object>> SUBCOMMANDS = subcommands();

  private static Map<String, Supplier<Object>> subcommands() {
    Map<String, Supplier<Object>> m = new LinkedHashMap<>();
    m.put("help", HelpCommand::new);
    m.put("version", VersionCommand::new);
    m.put("unpack", UnpackCommand::new);
    m.put("image", ImageCommand::new);
    m.put("idmap", IdmapCommand::new);
    m.put("doctor", DoctorCommand::new);
    m.put("check-ids", CheckIdsCommand::new);
    m.put("driver", DriverCommand::new);
    m.put("layers", LayersCommand::new);
    m.put("unshare", UnshareCommand::new);
    m.put("rm", RmCommand::new);
    return Collections.unmodifiableMap(m);
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(
      names = "--rootless",
      paramLabel = "auto|true|false",
      defaultValue = "auto",
      converter = RootlessHook.ModeConverter.class,
      description =
          "Run the commands that create files inside a rootless user namespace when started by a"
              + " non-root user: auto (when possible), true (or fail with the remedy),"
              + " false (never). Default: ${DEFAULT-VALUE}.")
  io.layerd.idmap.internal.RootlessMode rootless = io.layerd.idmap.internal.RootlessMode.AUTO;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Builds the command line with every subcommand; tests use this too. */
  public static CommandLine commandLine() {
    return commandLine(null);
  }

  /**
   * The command line with only the subcommand {@code only} (null: every one). Parsing is the same:
   * the one a run names is the only one it can reach.
   */
  static CommandLine commandLine(String only) {
    CommandLine cl = new CommandLine(new Main());
    for (Map.Entry<String, Supplier<Object>> c : SUBCOMMANDS.entrySet()) {
      if (only == null || only.equals(c.getKey())) {
        cl.addSubcommand(c.getKey(), c.getValue().get());
      }
    }
    CommandLine unshare = cl.getSubcommands().get("unshare");
    if (unshare != null) {
      unshare.setStopAtPositional(true); // CMD's own options are CMD's: unshare sh -c '...'
    }
    Errors errors = new Errors();
    cl.setExecutionExceptionHandler(errors);
    cl.setParameterExceptionHandler(errors);
    cl.setExecutionStrategy(new RootlessHook(Main.class.getName()));
    exitCodes(cl);
    return cl;
  }

  /**
   * Every command's help lists the one exit-status table ({@link ExitCode}), and ends with a line
   * break after its examples.
   */
  private static void exitCodes(CommandLine cl) {
    CommandLine.Model.UsageMessageSpec u = cl.getCommandSpec().usageMessage();
    u.exitCodeListHeading("%nExit status:%n").exitCodeList(ExitCode.table());
    String[] footer = u.footer();
    if (footer.length > 0 && !footer[footer.length - 1].isEmpty()) {
      String[] f = java.util.Arrays.copyOf(footer, footer.length + 1);
      f[footer.length] = "";
      u.footer(f);
    }
    for (CommandLine sub : cl.getSubcommands().values()) {
      exitCodes(sub);
    }
  }

  public static void main(String[] args) {
    System.exit(commandLine(subcommandNamed(args)).execute(args));
  }

  /**
   * The subcommand the arguments name, when that is certain: the first argument after this
   * command's own {@code --rootless} option, when it is one of {@link #SUBCOMMANDS} other than
   * {@code help} (which looks at the others). Else null: every subcommand is registered, so that
   * usage, suggestions for a mistyped name and {@code help NAME} see them all.
   */
  static String subcommandNamed(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--rootless")) {
        i++; // its value
      } else if (SUBCOMMANDS.containsKey(a) && !a.equals("help")) {
        return a;
      } else if (a.equals("--version") || a.equals("-V")) {
        return "version"; // no other command's model is needed to print the version
      } else if (!a.startsWith("--rootless=")) {
        return null;
      }
    }
    return null;
  }

  /** The version from the jar's manifest, or "dev". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"layerctl " + (v == null ? "dev" : v)};
    }
  }
}
