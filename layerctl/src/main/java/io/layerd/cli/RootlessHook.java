package io.layerd.cli;

import io.layerd.idmap.internal.RootlessException;
import io.layerd.idmap.internal.RootlessMode;
import io.layerd.idmap.internal.RootlessNamespace;
import java.io.IOException;
import java.util.List;
import java.util.OptionalInt;
import picocli.CommandLine;

/**
 * The execution strategy behind {@code --rootless=auto|true|false}: when the command to run is a
 * {@link UsesUserNamespace}, re-runs layerctl inside a rootless user namespace first ({@link
 * RootlessNamespace#reexec}) and returns the child's exit status; otherwise, or when no namespace
 * is needed, runs the command here. A namespace that {@code --rootless=true} requires and that
 * cannot be entered is reported as every command's failures are ({@link Errors}: exit status 5, and
 * a JSON document on standard output with {@code --json}).
 */
final class RootlessHook implements CommandLine.IExecutionStrategy {
  private final String mainClass;

  RootlessHook(String mainClass) {
    this.mainClass = mainClass;
  }

  /** Converts auto/true/false (and yes/no, on/off, 1/0). */
  static final class ModeConverter implements CommandLine.ITypeConverter<RootlessMode> {
    @Override
    public RootlessMode convert(String value) {
      try {
        return RootlessMode.parse(value);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** The {@code --rootless} mode given to layerctl (AUTO when none, or outside layerctl). */
  static RootlessMode mode(CommandLine.Model.CommandSpec spec) {
    Object root = spec.root().userObject();
    return root instanceof Main ? ((Main) root).rootless : RootlessMode.AUTO;
  }

  @Override
  public int execute(CommandLine.ParseResult parseResult) {
    List<CommandLine> chain = parseResult.asCommandLineList();
    CommandLine last = chain.get(chain.size() - 1);
    boolean help =
        chain.stream().anyMatch(c -> c.isUsageHelpRequested() || c.isVersionHelpRequested());
    if (!help && last.getCommand() instanceof UsesUserNamespace) {
      RootlessMode mode = mode(chain.get(0).getCommandSpec());
      try {
        OptionalInt status =
            RootlessNamespace.reexec(
                mode,
                RootlessNamespace.Launcher.NEWUIDMAP,
                mainClass,
                parseResult.originalArgs().toArray(new String[0]),
                warning -> {
                  last.getErr().println("layerctl: warning: " + warning);
                  last.getErr().flush();
                });
        if (status.isPresent()) {
          return status.getAsInt();
        }
      } catch (RootlessException e) {
        return Errors.show(last, parseResult, e);
      } catch (IOException e) {
        return Errors.show(
            last,
            parseResult,
            new RootlessException("cannot enter a rootless user namespace: " + e.getMessage(), e));
      }
    }
    return new CommandLine.RunLast().execute(parseResult);
  }
}
