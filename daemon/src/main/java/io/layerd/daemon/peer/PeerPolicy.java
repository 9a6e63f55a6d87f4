package io.layerd.daemon.peer;

import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may talk to layerd's sockets: the user that runs layerd, and root. Both sockets are mode
 * 0600, which already keeps other users out; this check holds even when the socket's mode (or its
 * directory's) was loosened by hand, because it asks the kernel who the peer is (SO_PEERCRED, as
 * the connection was made) instead of trusting the file.
 *
 * <p>The peer's credentials come from the transports that own the sockets: the JDK's {@code
 * ExtendedSocketOptions.SO_PEERCRED} for the graph-driver socket (Jetty on a JDK unix-domain
 * channel) and Netty's {@code EpollDomainSocketChannel.peerCredentials()} for containerd's (gRPC's
 * epoll transport); neither is a native call of layerd's own.
 *
 * <p>A refused connection is closed before any request is read, and logged (at most once per
 * second, with the number refused since) with the peer's uid and pid.
 */
public final class PeerPolicy {
  private static final Logger LOG = LoggerFactory.getLogger(PeerPolicy.class);

  private final long ownUid;
  private final UserPrincipal own;
  private final UserPrincipal root;
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong lastLog = new AtomicLong(Long.MIN_VALUE);

  private PeerPolicy(long ownUid, UserPrincipal own, UserPrincipal root) {
    this.ownUid = ownUid;
    this.own = own;
    this.root = root;
  }

  /** The policy of this process: its effective uid and root. */
  public static PeerPolicy ofThisProcess() {
    long uid = Sys.geteuid();
    UserPrincipalLookupService ids = FileSystems.getDefault().getUserPrincipalLookupService();
    try {
      // A numeric name that no user has is read as that uid.
      return new PeerPolicy(
          uid, ids.lookupPrincipalByName(Long.toString(uid)), ids.lookupPrincipalByName("0"));
    } catch (IOException e) {
      throw new IllegalStateException("cannot name uid " + uid + " or uid 0", e);
    }
  }

  /** Whether a peer of this uid is served. */
  public boolean allows(long uid) {
    return uid == ownUid || uid == 0;
  }

  /** Whether a peer that is this user (as the JDK names it) is served. */
  public boolean allows(UserPrincipal user) {
    return own.equals(user) || root.equals(user);
  }

  /** Counts and logs a refused peer. */
  public void refused(String socket, String peer) {
    long n = refused.incrementAndGet();
    long now = System.nanoTime();
    long last = lastLog.get();
    if (last == Long.MIN_VALUE || now - last > 1_000_000_000L) {
      if (lastLog.compareAndSet(last, now)) {
        LOG.warn(
            "refused a connection to {} from {}: layerd serves only uid {} (the user it runs as)"
                + " and root; {} refused so far",
            socket,
            peer,
            ownUid,
            n);
      }
    }
  }

  /** How many connections were refused. */
  public long refusedCount() {
    return refused.get();
  }
}
