package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * OpenSSL's libcrypto digests (the EVP interface, OpenSSL 1.1 and 3), bound by JNA direct mapping.
 * Package-private: only {@link NativeSha256} calls it. The library is optional: {@link #load}
 * answers why it is not there instead of failing. Pointers are {@code long} addresses.
 */
final class Crypto {
  private Crypto() {}

  /** EVP_MD_CTX *EVP_MD_CTX_new(void); */
  static native long EVP_MD_CTX_new();

  /** void EVP_MD_CTX_free(EVP_MD_CTX *ctx); */
  static native void EVP_MD_CTX_free(long ctx);

  /** const EVP_MD *EVP_sha256(void); */
  static native long EVP_sha256();

  /** int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl); */
  static native int EVP_DigestInit_ex(long ctx, long type, long engine);

  /** int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt); */
  static native int EVP_DigestUpdate(long ctx, long data, long count);

  /** int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s); (s: NULL) */
  static native int EVP_DigestFinal_ex(long ctx, byte[] md, long size);

  /** Binds the functions above to libcrypto (OpenSSL 3 or 1.1). Null when bound, else why not. */
  static String load() {
    Throwable last = null;
    for (String name : new String[] {"libcrypto.so.3", "libcrypto.so.1.1", "crypto"}) {
      try {
        Native.register(Crypto.class, NativeLibrary.getInstance(name));
        return null;
      } catch (UnsatisfiedLinkError | IllegalArgumentException e) {
        last = e;
      }
    }
    return "libcrypto (OpenSSL) is not installed ("
        + (last == null ? "not found" : last.getMessage())
        + ")";
  }
}
