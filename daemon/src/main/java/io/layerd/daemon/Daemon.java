package io.layerd.daemon;

import io.layerd.daemon.containerd.SnapshotterServer;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running layerd: the engine on its data-root, and the plugin server on its socket. {@link
 * Main} runs one per process; tests start one in-process.
 *
 * <pre>{@code
 * try (Daemon d = Daemon.start(Settings.of(dataRoot, socket, "vfs"))) {
 *   ... dockerd talks to d.socket() ...
 * }
 * }</pre>
 */
public final class Daemon implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  private final GraphDriverService service;
  private final PluginServer server;
  private final SnapshotterServer snapshots; // or null
  private boolean closed;

  private Daemon(GraphDriverService service, PluginServer server, SnapshotterServer snapshots) {
    this.service = service;
    this.server = server;
    this.snapshots = snapshots;
  }

  /**
   * Opens the data-root (checked, locked, recovered) and listens on the socket. Fails without
   * leaving a socket behind when either cannot be done.
   */
  public static Daemon start(Settings settings) throws IOException {
    GraphDriverService service = GraphDriverService.open(settings);
    try {
      PluginServer server =
          PluginServer.start(service, settings.socket(), settings.shutdownTimeout());
      SnapshotterServer snapshots = null;
      if (settings.containerdSocket() != null) {
        try {
          snapshots =
              SnapshotterServer.start(
                  service.baseEngine(),
                  settings.containerdSocket(),
                  settings.containerdRoot(),
                  settings.containerdAddress(),
                  settings.diffCompression());
        } catch (IOException | RuntimeException e) {
          server.close();
          throw e;
        }
      }
      return new Daemon(service, server, snapshots);
    } catch (IOException | RuntimeException e) {
      try {
        service.close();
      } catch (IOException c) {
        e.addSuppressed(c);
      }
      throw e;
    }
  }

  /** The socket of containerd's snapshotter API, or null when it is not served. */
  public Path containerdSocket() {
    return snapshots == null ? null : snapshots.socket();
  }

  /** The socket it listens on. */
  public Path socket() {
    return server.socket();
  }

  /** The data-root of the engine serving requests. */
  public Path dataRoot() {
    return service.engine().dataRoot();
  }

  /** The engine serving requests (tests look at reference counts). */
  public io.layerd.engine.Engine engine() {
    return service.engine();
  }

  /**
   * The orderly stop (SIGTERM): stop accepting, let requests in flight finish or roll back within
   * the shutdown timeout, remove the socket, then close the engine (unmounting every layer still
   * got, releasing the data-root's lock). Idempotent.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      try {
        if (snapshots != null) {
          snapshots.close();
        }
      } finally {
        server.close();
      }
    } finally {
      service.close();
      LOG.info("stopped: mounts released, data-root unlocked");
    }
  }
}
