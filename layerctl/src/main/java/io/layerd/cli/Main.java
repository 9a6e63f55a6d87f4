package io.layerd.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code layerctl}: offline unpacking of layers and images, and rootless diagnostics. */
@Command(
    name = "layerctl",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description =
        "Unpack container layers and images into a directory, and check rootless set-ups.",
    subcommands = {
      CommandLine.HelpCommand.class,
      UnpackCommand.class,
      ImageCommand.class,
      IdmapCommand.class,
      DoctorCommand.class,
      CheckIdsCommand.class,
      DriverCommand.class,
      LayersCommand.class
    })
public final class Main implements Runnable {
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
  io.layerd.idmap.RootlessMode rootless = io.layerd.idmap.RootlessMode.AUTO;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Builds the command line with every subcommand; tests use this too. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(new Errors());
    cl.setExecutionStrategy(new RootlessHook(Main.class.getName()));
    return cl;
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
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
