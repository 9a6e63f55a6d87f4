package io.layerd.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Probe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * Chooses a driver for a data-root, and says why: an explicit choice (--driver, the config, or
 * LAYERD_DRIVER) first; else the one driver whose state already exists in the data-root; else the
 * first usable driver by priority (overlay2, fuse-overlayfs, btrfs, vfs). Every driver is probed
 * for real; only a typed {@link DriverRefusal} moves the choice on — any other failure stops it.
 */
public final class DriverSelector {
  private DriverSelector() {}

  /** One driver's verdict. */
  public record Verdict(
      String name,
      int priority,
      boolean usable,
      boolean hasState,
      String refusal,
      List<String> reasons) {
    public Verdict {
      reasons = List.copyOf(reasons);
    }
  }

  /** The choice and every verdict behind it. */
  public record Selection(String chosen, String why, List<Verdict> drivers) {
    public Selection {
      drivers = List.copyOf(drivers);
    }

    public Verdict verdict(String name) {
      return drivers.stream().filter(v -> v.name().equals(name)).findFirst().orElse(null);
    }
  }

  /** Every driver on the class path, by priority. */
  public static List<DriverProvider> installed() {
    List<DriverProvider> out = new ArrayList<>();
    for (DriverProvider p : ServiceLoader.load(DriverProvider.class)) {
      out.add(p);
    }
    out.sort(Comparator.comparingInt(DriverProvider::priority));
    return out;
  }

  /** The context a driver gets in this data-root. */
  public static DriverContext context(
      Path dataRoot, DriverProvider p, Host host, Map<String, String> options) {
    return new DriverContext(dataRoot, dataRoot.resolve(p.name()), host, options);
  }

  /** Probes every driver and chooses one; fails with every reason when none will do. */
  public static Selection select(
      Path dataRoot,
      Host host,
      String explicit,
      Map<String, String> options,
      List<DriverProvider> providers)
      throws IOException {
    List<Verdict> verdicts = new ArrayList<>();
    for (DriverProvider p : providers) {
      verdicts.add(probe(dataRoot, p, host, options));
    }
    if (explicit != null && !explicit.isEmpty()) {
      Verdict v = verdicts.stream().filter(x -> x.name().equals(explicit)).findFirst().orElse(null);
      if (v == null) {
        throw new IOException(
            "unknown storage driver '"
                + explicit
                + "': choose one of "
                + String.join(", ", names(providers)));
      }
      if (!v.usable()) {
        throw new IOException(
            "storage driver "
                + explicit
                + " was chosen but cannot be used here: "
                + v.refusal()
                + ": "
                + String.join("; ", v.reasons()));
      }
      return new Selection(explicit, explicit + " was chosen explicitly", verdicts);
    }
    List<Verdict> withState = verdicts.stream().filter(Verdict::hasState).toList();
    if (withState.size() > 1) {
      throw new IOException(
          "data-root "
              + dataRoot
              + " holds the state of several drivers ("
              + String.join(", ", withState.stream().map(Verdict::name).toList())
              + "): choose one with --driver, and move the others' directories away");
    }
    if (withState.size() == 1) {
      Verdict v = withState.get(0);
      if (!v.usable()) {
        throw new IOException(
            "data-root "
                + dataRoot
                + " holds "
                + v.name()
                + " layers, but "
                + v.name()
                + " cannot be used here: "
                + v.refusal()
                + ": "
                + String.join("; ", v.reasons())
                + ". Fix that, or choose another driver with --driver (the "
                + v.name()
                + " layers will not be visible to it)");
      }
      return new Selection(
          v.name(), "the data-root already holds " + v.name() + " layers", verdicts);
    }
    for (Verdict v : verdicts) {
      if (v.usable()) {
        return new Selection(
            v.name(), v.name() + " is the first usable driver by priority", verdicts);
      }
    }
    StringBuilder sb = new StringBuilder("no storage driver can be used in " + dataRoot + ":");
    for (Verdict v : verdicts) {
      sb.append("\n  ")
          .append(v.name())
          .append(": ")
          .append(v.refusal())
          .append(": ")
          .append(String.join("; ", v.reasons()));
    }
    throw new IOException(sb.toString());
  }

  private static List<String> names(List<DriverProvider> providers) {
    return providers.stream().map(DriverProvider::name).toList();
  }

  private static Verdict probe(
      Path dataRoot, DriverProvider p, Host host, Map<String, String> options) throws IOException {
    DriverContext ctx = context(dataRoot, p, host, options);
    boolean state = Files.isDirectory(ctx.home()) && p.hasState(ctx);
    try {
      Probe probe = p.probe(ctx);
      return new Verdict(p.name(), p.priority(), true, state, null, probe.reasons());
    } catch (DriverRefusal r) {
      return new Verdict(
          p.name(), p.priority(), false, state, r.kind().label(), List.of(r.reason()));
    }
  }

  /** The selection as JSON: {"chosen":..., "why":..., "drivers":[{name, usable, reasons...}]}. */
  public static String toJson(Selection s) throws IOException {
    return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(s);
  }
}
