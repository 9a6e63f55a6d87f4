package io.layerd.engine;

import io.layerd.engine.spi.Capability;
import io.layerd.engine.spi.DeletionForm;
import io.layerd.engine.spi.Driver;
import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverProvider;
import io.layerd.engine.spi.LayerIds;
import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Probe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A minimal copying driver for the engine's own tests (the real drivers depend on the engine, so
 * its tests cannot use them): a base layer is an empty directory {@code <home>/<id>}, a child a
 * {@code cp -a} of its parent.
 */
final class DirDriver implements Driver {
  static final String NAME = "testdir";

  private final Path home;

  DirDriver(Path home) {
    this.home = home;
  }

  /** Finds {@link DirDriver}; always usable. */
  static final class Provider implements DriverProvider {
    final AtomicInteger probes = new AtomicInteger();

    @Override
    public String name() {
      return NAME;
    }

    @Override
    public int priority() {
      return 500;
    }

    @Override
    public Probe probe(DriverContext context) {
      probes.incrementAndGet();
      return Probe.of("a test driver");
    }

    @Override
    public Driver open(DriverContext context) {
      return new DirDriver(context.home());
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Set<Capability> capabilities() {
    return Set.of(Capability.ROOTLESS, Capability.XATTRS);
  }

  @Override
  public DeletionForm deletionForm() {
    return DeletionForm.ABSENT;
  }

  @Override
  public void create(String id, String parent, boolean readWrite) throws IOException {
    Path dir = home.resolve(LayerIds.check(id));
    if (parent == null) {
      Files.createDirectory(dir);
      return;
    }
    Process p =
        new ProcessBuilder("cp", "-a", home.resolve(parent).toString(), dir.toString())
            .redirectErrorStream(true)
            .start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException(
            "cp failed: " + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  @Override
  public void remove(String id) throws IOException {
    if (exists(id)) {
      Engine.removeTree(home.resolve(id));
    }
  }

  @Override
  public boolean exists(String id) {
    return Files.isDirectory(home.resolve(LayerIds.check(id)), LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public Path diffDirectory(String id) throws IOException {
    if (!exists(id)) {
      throw new java.nio.file.NoSuchFileException(home.resolve(id).toString());
    }
    return home.resolve(id);
  }

  @Override
  public List<Mount> mounts(String id, boolean readOnly) {
    return List.of();
  }

  @Override
  public List<Map.Entry<String, String>> status() {
    return List.of(Map.entry("Backing Filesystem", "test"));
  }

  @Override
  public Map<String, String> metadata(String id) throws IOException {
    return Map.of("Dir", diffDirectory(id).toString());
  }
}
