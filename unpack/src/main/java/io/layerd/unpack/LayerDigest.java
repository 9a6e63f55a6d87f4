package io.layerd.unpack;

import io.layerd.sys.NativeSha256;
import io.layerd.unpack.internal.LayerStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * SHA-256 of a layer's bytes as they stream: OpenSSL's through {@code sys} ({@link NativeSha256},
 * fast from the first byte) when it is there, else the JDK's (as fast once the JIT compiled it).
 */
final class LayerDigest implements AutoCloseable {
  private final NativeSha256 fast; // or null
  private final MessageDigest jdk; // when fast is null

  private LayerDigest(NativeSha256 fast, MessageDigest jdk) {
    this.fast = fast;
    this.jdk = jdk;
  }

  static LayerDigest create() {
    return NativeSha256.available()
        ? new LayerDigest(NativeSha256.create(), null)
        : new LayerDigest(null, LayerStream.sha256());
  }

  /** Digests a buffer between its position and limit, advancing the position. */
  void update(ByteBuffer b) {
    if (fast != null) {
      fast.update(b);
    } else {
      jdk.update(b);
    }
  }

  void update(byte[] b, int off, int len) {
    if (fast != null) {
      fast.update(b, off, len);
    } else {
      jdk.update(b, off, len);
    }
  }

  /** "sha256:" and the hex digest; the object is then spent. */
  String finish() {
    return "sha256:" + HexFormat.of().formatHex(fast != null ? fast.digest() : jdk.digest());
  }

  /** Frees the native context (the JDK's digest needs nothing). */
  @Override
  public void close() {
    if (fast != null) {
      fast.close();
    }
  }
}
