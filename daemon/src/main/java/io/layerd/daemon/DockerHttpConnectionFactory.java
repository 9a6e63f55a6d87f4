package io.layerd.daemon;

import io.layerd.daemon.peer.PeerPolicy;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.StringUtil;

/**
 * Jetty's HTTP/1.1 connections, accepting the empty {@code Host:} header that dockerd's plugin
 * client sends.
 *
 * <p>Why: dockerd addresses a plugin as {@code http://} + the socket's path; Go's HTTP client cuts
 * a request's Host at the first {@code /}, so every call arrives with {@code Host: } and no value
 * (RFC 9112 allows an empty Host for a target without an authority). Jetty 12 refuses a blank Host
 * with "400 Blank Host", with no compliance mode to allow it (jetty/jetty.project#11287). This
 * factory uses Jetty's own extension points ({@link HttpConnection#newHttpStream}) to read an empty
 * Host as {@code localhost}; everything else is Jetty's parsing, unchanged.
 *
 * <p>Each connection's peer is checked first ({@link PeerPolicy}): a peer that is neither layerd's
 * user nor root gets a connection that closes at once, before anything is read.
 */
final class DockerHttpConnectionFactory extends HttpConnectionFactory {
  /** What an empty Host header is read as. */
  static final String BLANK_HOST = "localhost";

  private final PeerPolicy peers;
  private final String socket;

  DockerHttpConnectionFactory(HttpConfiguration config, PeerPolicy peers, String socket) {
    super(config);
    this.peers = peers;
    this.socket = socket;
  }

  @Override
  public Connection newConnection(Connector connector, EndPoint endPoint) {
    if (endPoint.getTransport() instanceof SocketChannel channel) {
      String refused = refusal(channel);
      if (refused != null) {
        peers.refused(socket, refused);
        return new RefusedConnection(endPoint, connector);
      }
    }
    HttpConnection c = new BlankHostConnection(getHttpConfiguration(), connector, endPoint);
    c.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
    return configure(c, connector, endPoint);
  }

  /** An {@link HttpConnection} whose streams take an empty Host as {@link #BLANK_HOST}. */
  static final class BlankHostConnection extends HttpConnection {
    BlankHostConnection(HttpConfiguration config, Connector connector, EndPoint endPoint) {
      super(config, connector, endPoint);
    }

    @Override
    protected HttpStreamOverHTTP1 newHttpStream(String method, String uri, HttpVersion version) {
      return new BlankHostStream(method, uri, version);
    }

    final class BlankHostStream extends HttpStreamOverHTTP1 {
      BlankHostStream(String method, String uri, HttpVersion version) {
        super(method, uri, version);
      }

      @Override
      public void parsedHeader(HttpField field) {
        if (field.getHeader() == HttpHeader.HOST && StringUtil.isBlank(field.getValue())) {
          super.parsedHeader(new HostPortHttpField(BLANK_HOST));
          return;
        }
        super.parsedHeader(field);
      }
    }
  }

  /** Null when the peer is served, else a description of the peer. */
  private String refusal(SocketChannel channel) {
    UnixDomainPrincipal peer;
    try {
      peer = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
    } catch (IOException | UnsupportedOperationException e) {
      return "a peer whose credentials cannot be read (" + e + ")";
    }
    return peers.allows(peer.user()) ? null : "user " + peer.user().getName();
  }

  /** A connection that closes as soon as it opens. */
  static final class RefusedConnection extends AbstractConnection {
    RefusedConnection(EndPoint endPoint, Connector connector) {
      super(endPoint, connector.getExecutor());
    }

    @Override
    public void onOpen() {
      super.onOpen();
      getEndPoint().close();
    }

    @Override
    public void onFillable() {
      getEndPoint().close();
    }
  }
}
