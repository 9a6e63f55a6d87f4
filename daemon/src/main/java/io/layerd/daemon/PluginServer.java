package io.layerd.daemon;

import io.layerd.daemon.peer.PeerPolicy;
import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/1.1 server on the unix socket (Jetty's {@link UnixDomainServerConnector}, on Java's
 * native unix-domain channels): no TCP listener, ever.
 *
 * <p>The socket file: its directory is made when missing (mode 0700); a stale socket of a process
 * that is gone is removed, a live one is an error (two daemons must not share a name); the socket
 * is bound inside a private directory, chmod'ed to 0600 and only then renamed into place, so that
 * it is never reachable with looser permissions. It belongs to the user that runs layerd, and only
 * that user and root are served even when its mode is loosened ({@link PeerPolicy}).
 *
 * <p>{@link #close()} is the graceful stop: no new connections, requests in flight may finish
 * within the shutdown timeout (an ApplyDiff cut short rolls its layer back), then the socket file
 * is removed.
 */
final class PluginServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(PluginServer.class);

  /** sun_path holds 108 bytes with its terminating NUL. */
  private static final int MAX_SOCKET_PATH = 107;

  /** See {@link GracefulHandler#setShutdownIdleTimeout}. */
  private static final Duration STALLED_BODY_WHILE_STOPPING = Duration.ofSeconds(10);

  private final Server server;
  private final GraphDriverHandler handler;
  private final Path socket;
  private final Duration shutdownTimeout;
  private Object socketKey;

  private PluginServer(
      Server server, GraphDriverHandler handler, Path socket, Duration shutdownTimeout) {
    this.server = server;
    this.handler = handler;
    this.socket = socket;
    this.shutdownTimeout = shutdownTimeout;
  }

  /** Listens on {@code socket} and serves {@code service}. */
  static PluginServer start(GraphDriverService service, Path socket, Duration shutdownTimeout)
      throws IOException {
    Objects.requireNonNull(service);
    Path abs = socket.toAbsolutePath().normalize();
    if (abs.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
      throw new IOException(
          "socket path "
              + abs
              + " is longer than the "
              + MAX_SOCKET_PATH
              + " bytes a unix socket address holds: choose a shorter --socket");
    }
    prepareDirectory(abs.getParent());
    removeStale(abs);

    QueuedThreadPool pool = new QueuedThreadPool(64, 4);
    pool.setName("layerd-http");
    Server server = new Server(pool);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(false);
    UnixDomainServerConnector connector =
        new UnixDomainServerConnector(
            server,
            new DockerHttpConnectionFactory(http, PeerPolicy.ofThisProcess(), abs.toString()));
    // dockerd keeps connections open between calls and its client does not like them closed
    // under it; an idle hour is fine. A body that stops flowing fails the same way.
    connector.setIdleTimeout(Duration.ofHours(1).toMillis());
    Path privateDir = privateBindDirectory(abs);
    Path bindPath = privateDir == null ? abs : privateDir.resolve("s");
    connector.setUnixDomainPath(bindPath);
    server.addConnector(connector);
    GraphDriverHandler handler = new GraphDriverHandler(service);
    GracefulHandler graceful = new GracefulHandler(handler);
    // While stopping, a request whose body stalls this long is cut (and its layer rolled back);
    // Jetty's default, 1 s, would cut a slow but healthy upload.
    graceful.setShutdownIdleTimeout(
        Math.min(shutdownTimeout.toMillis(), STALLED_BODY_WHILE_STOPPING.toMillis()));
    server.setHandler(graceful);
    server.setStopTimeout(shutdownTimeout.toMillis());
    server.setStopAtShutdown(false); // Main's shutdown hook stops it, then closes the engine
    PluginServer ps = new PluginServer(server, handler, abs, shutdownTimeout);
    try {
      server.start();
      Files.setPosixFilePermissions(bindPath, PosixFilePermissions.fromString("rw-------"));
      if (privateDir != null) {
        Files.move(bindPath, abs, StandardCopyOption.ATOMIC_MOVE);
        Files.delete(privateDir);
      }
      ps.socketKey = key(abs);
    } catch (Exception e) {
      try {
        server.stop();
      } catch (Exception stop) {
        e.addSuppressed(stop);
      }
      if (privateDir != null) {
        Files.deleteIfExists(bindPath);
        Files.deleteIfExists(privateDir);
      }
      throw e instanceof IOException io ? io : new IOException("cannot listen on " + abs, e);
    }
    LOG.info("listening on {}", abs);
    return ps;
  }

  Path socket() {
    return socket;
  }

  long inFlight() {
    return handler.inFlight();
  }

  private static void prepareDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    // Parents that are missing too are made 0700 as well: only this user (and root) need them.
    Path parent = dir.getParent();
    if (parent != null && !Files.exists(parent)) {
      prepareDirectory(parent);
    }
    try {
      Files.createDirectory(
          dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (java.nio.file.FileAlreadyExistsException raced) {
      if (!Files.isDirectory(dir)) {
        throw new IOException(dir + " exists and is not a directory: cannot put the socket there");
      }
    }
  }

  /** Removes a socket nobody listens on; refuses anything else. */
  private static void removeStale(Path socket) throws IOException {
    if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    BasicFileAttributes a =
        Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isOther()) {
      throw new IOException(
          socket + " exists and is not a socket: remove it or choose another --socket");
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      throw new IOException(
          "another process (a running layerd?) listens on "
              + socket
              + ": stop it first, or choose another --socket");
    } catch (java.net.ConnectException refused) {
      LOG.info("removing the stale socket {}", socket);
      Files.deleteIfExists(socket);
    }
  }

  /** A fresh 0700 directory beside the socket to bind in, or null when the path would be long. */
  private static Path privateBindDirectory(Path socket) throws IOException {
    String name =
        ".layerd-"
            + ProcessHandle.current().pid()
            + "-"
            + Integer.toHexString(ThreadLocalRandom.current().nextInt());
    Path dir = socket.getParent().resolve(name);
    if (dir.resolve("s").toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
        > MAX_SOCKET_PATH) {
      return null;
    }
    return Files.createDirectory(
        dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
  }

  private static Object key(Path p) throws IOException {
    return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
  }

  /**
   * Stops accepting, lets requests in flight finish (bounded by the shutdown timeout), then removes
   * the socket file when it still is ours.
   */
  @Override
  public void close() throws IOException {
    long inFlight = handler.inFlight();
    if (inFlight > 0) {
      LOG.info(
          "stopping: waiting up to {} s for {} request(s) in flight",
          shutdownTimeout.toSeconds(),
          inFlight);
    }
    try {
      server.stop();
    } catch (Exception e) {
      LOG.warn("stopping the HTTP server: {}", e.toString());
    }
    // Handlers whose connection was cut by the stop are still rolling back: wait for them.
    long deadline = System.nanoTime() + shutdownTimeout.toNanos();
    while (handler.inFlight() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    try {
      if (socketKey != null && socketKey.equals(key(socket))) {
        Files.deleteIfExists(socket);
      }
    } catch (java.nio.file.NoSuchFileException gone) {
      // removed by someone else
    }
  }
}
