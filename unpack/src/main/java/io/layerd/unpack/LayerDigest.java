package io.layerd.unpack;

import io.layerd.sys.NativeSha256;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * SHA-256 of a layer's bytes as they stream: OpenSSL's through {@code sys} ({@link NativeSha256},
 * fast from the first byte) when it is there, else the JDK's (as fast once the JIT compiled it).
 */
abstract class LayerDigest implements AutoCloseable {
  static LayerDigest create() {
    return NativeSha256.available() ? new Native() : new Jdk();
  }

  /** Digests a buffer between its position and limit, advancing the position. */
  abstract void update(ByteBuffer b);

  abstract void update(byte[] b, int off, int len);

  /** "sha256:" and the hex digest; the object is then spent. */
  abstract String finish();

  @Override
  public void close() {}

  private static final class Native extends LayerDigest {
    private final NativeSha256 sha = NativeSha256.create();

    @Override
    void update(ByteBuffer b) {
      sha.update(b);
    }

    @Override
    void update(byte[] b, int off, int len) {
      sha.update(b, off, len);
    }

    @Override
    String finish() {
      return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }

    @Override
    public void close() {
      sha.close();
    }
  }

  private static final class Jdk extends LayerDigest {
    private final MessageDigest sha = LayerStream.sha256();

    @Override
    void update(ByteBuffer b) {
      sha.update(b);
    }

    @Override
    void update(byte[] b, int off, int len) {
      sha.update(b, off, len);
    }

    @Override
    String finish() {
      return "sha256:" + HexFormat.of().formatHex(sha.digest());
    }
  }
}
