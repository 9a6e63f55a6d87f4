package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.ChildJvm;
import io.layerd.testkit.ChildJvm.Mode;
import io.layerd.testkit.Require;
import io.layerd.testkit.RootTest;
import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TestUser;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Who may use layerd's two sockets (the graph-driver socket and containerd's snapshotter socket):
 * both are mode 0600, and even with their mode loosened only layerd's own user and root are served,
 * by the peer's credentials (SO_PEERCRED). The other user is the real test user, in a child JVM.
 */
class SocketSecurityTest {
  /** dockerd's first call, as raw HTTP/1.1 with the empty Host it sends. */
  private static final byte[] ACTIVATE =
      ("POST /Plugin.Activate HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n"
              + "Accept: application/vnd.docker.plugins.v1.2+json\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);

  /** The HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers SETTINGS. */
  private static final byte[] H2_PREFACE = h2Preface();

  private static byte[] h2Preface() {
    byte[] magic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0}; // length 0, type SETTINGS, no flags, stream 0
    return ByteBuffer.allocate(magic.length + settings.length).put(magic).put(settings).array();
  }

  @RootTest
  @SuppressWarnings("try") // d serves while the children knock: its sockets are what is checked
  void onlyTheDaemonsUserAndRootAreServed() throws Exception {
    Require.root();
    TestUser other = TestUser.standard();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "sec");
    try {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
      Path run = dir.resolve("run");
      Files.createDirectory(run);
      Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwx--x--x"));
      Path http = run.resolve("layerd.sock");
      Path grpc = run.resolve("snapshotter.sock");
      try (Daemon d =
          Daemon.start(Settings.of(dir.resolve("root"), http, "vfs").withContainerdSocket(grpc))) {
        for (Path s : new Path[] {http, grpc}) {
          assertEquals(
              "rw-------",
              PosixFilePermissions.toString(Files.getPosixFilePermissions(s)),
              s + " is private to the user");
        }
        // root (the daemon's own user here) is served on both
        assertTrue(exchange(http, ACTIVATE).startsWith("HTTP/1.1 200"), "root is served");
        assertTrue(exchange(grpc, H2_PREFACE).length() > 0, "root is served by gRPC");

        // the mode alone keeps the other user out
        ChildJvm.call(other, Mode.USER, SocketSecurityTest::denied, http.toString())
            .assertSuccess();
        ChildJvm.call(other, Mode.USER, SocketSecurityTest::denied, grpc.toString())
            .assertSuccess();

        // with the mode loosened, the peer's credentials still keep it out
        for (Path s : new Path[] {http, grpc}) {
          Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rw-rw-rw-"));
        }
        ChildJvm.call(other, Mode.USER, SocketSecurityTest::closed, http.toString(), "http")
            .assertSuccess();
        ChildJvm.call(other, Mode.USER, SocketSecurityTest::closed, grpc.toString(), "h2")
            .assertSuccess();
        // and the daemon still serves its own user afterwards
        assertTrue(exchange(http, ACTIVATE).startsWith("HTTP/1.1 200"), "root is still served");
        assertTrue(exchange(grpc, H2_PREFACE).length() > 0, "root is still served by gRPC");
      }
    } finally {
      TestFiles.deleteTree(dir);
    }
  }

  /**
   * Sends {@code request} and returns what comes back: everything until the server closes, or until
   * it has answered and stays quiet for 300 ms (keep-alive), or 5 s pass. Connecting may fail.
   */
  static String exchange(Path socket, byte[] request) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      try {
        ch.write(ByteBuffer.wrap(request));
      } catch (IOException closedFirst) {
        return ""; // the server closed the connection before the request was written
      }
      ch.configureBlocking(false);
      ByteBuffer buf = ByteBuffer.allocate(4096);
      StringBuilder got = new StringBuilder();
      long deadline = System.nanoTime() + 5_000_000_000L;
      long quietSince = System.nanoTime();
      while (System.nanoTime() < deadline) {
        buf.clear();
        int n;
        try {
          n = ch.read(buf);
        } catch (IOException reset) {
          break; // reset by the server
        }
        if (n < 0) {
          break;
        }
        if (n > 0) {
          got.append(new String(buf.array(), 0, n, StandardCharsets.ISO_8859_1));
          quietSince = System.nanoTime();
        } else if (got.length() > 0 && System.nanoTime() - quietSince > 300_000_000L) {
          break;
        } else {
          sleep();
        }
      }
      return got.toString();
    }
  }

  private static void sleep() {
    try {
      Thread.sleep(10);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ in the other user's JVM

  /** The socket's mode refuses the connection itself. */
  static void denied(String[] args) {
    Path socket = Path.of(args[0]);
    IOException e = assertThrows(IOException.class, () -> exchange(socket, ACTIVATE));
    assertTrue(
        String.valueOf(e.getMessage()).contains("Permission denied"),
        "connecting to " + socket + ": " + e);
  }

  /** The connection is accepted by the kernel, then closed by layerd before any answer. */
  static void closed(String[] args) throws IOException {
    Path socket = Path.of(args[0]);
    byte[] request = args[1].equals("http") ? ACTIVATE : H2_PREFACE;
    String answer = exchange(socket, request);
    assertEquals("", answer, "layerd answered another user on " + socket);
  }
}
