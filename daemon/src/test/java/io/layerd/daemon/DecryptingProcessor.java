package io.layerd.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A real stream processor for containerd ({@code [stream_processors]} in its config; containerd's
 * docs/stream_processors.md): a shell script that decrypts its standard input to its standard
 * output with {@code openssl enc -d -aes-256-ctr}, as ocicrypt's {@code ctd-decoder} decrypts an
 * encrypted layer. containerd runs it for the media types it {@code accepts} ({@link #ENCRYPTED})
 * with {@code STREAM_PROCESSOR_MEDIATYPE} set and, when the Apply request carries a payload under
 * the processor's id ({@link #ID}), that payload (a marshalled {@code google.protobuf.Any}) on fd
 * 3. The key is the SHA-256 of that payload when there is one, else the key file's: a layer
 * encrypted with {@link #keyOf(byte[])} of a payload decrypts only if the payload reached the
 * processor byte for byte. Each run appends its media type and the key's source to {@link #log}.
 */
final class DecryptingProcessor {
  /**
   * The processor's id in containerd's config: that of the processor containerd 2.x configures by
   * default for {@link #ENCRYPTED} (ocicrypt's {@code ctd-decoder}), which a table of this id
   * replaces: two processors accepting one media type would be chosen between at random (containerd
   * registers its map of processors in Go's map order). Apply payloads for it are keyed so, as
   * ocicrypt's clients key theirs.
   */
  static final String ID = "io.containerd.ocicrypt.decoder.v1.tar.gzip";

  /** The media type it accepts: an encrypted gzip layer, as ocicrypt names it. */
  static final String ENCRYPTED = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";

  /** What it returns. */
  static final String RETURNS = "application/vnd.oci.image.layer.v1.tar+gzip";

  private static final byte[] IV = HexFormat.of().parseHex("000102030405060708090a0b0c0d0e0f");

  private final Path script;
  private final Path log;
  private final byte[] key;

  private DecryptingProcessor(Path script, Path log, byte[] key) {
    this.script = script;
    this.log = log;
    this.key = key;
  }

  /** Writes the script, its key file and its log under {@code dir}. */
  static DecryptingProcessor write(Path dir) throws IOException {
    byte[] key = sha256(("layerd's test key in " + dir).getBytes(StandardCharsets.UTF_8));
    Path keyFile = dir.resolve("decrypt.key");
    Files.writeString(keyFile, HexFormat.of().formatHex(key) + "\n");
    Path log = dir.resolve("decrypt.log");
    Files.createFile(log);
    Path script = dir.resolve("decrypt");
    Files.writeString(
        script,
        String.join(
            "\n",
            "#!/bin/sh",
            "# containerd's stream processor: AES-256-CTR decryption of stdin to stdout",
            "set -e",
            "if [ -e /dev/fd/3 ]; then",
            "  key=$(sha256sum <&3 | cut -d' ' -f1)",
            "  echo \"$STREAM_PROCESSOR_MEDIATYPE payload\" >>'" + log + "'",
            "else",
            "  key=$(cat '" + keyFile + "')",
            "  echo \"$STREAM_PROCESSOR_MEDIATYPE key-file\" >>'" + log + "'",
            "fi",
            "exec openssl enc -d -aes-256-ctr -K \"$key\" -iv " + HexFormat.of().formatHex(IV),
            ""));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return new DecryptingProcessor(script, log, key);
  }

  /** The {@code [stream_processors]} table to append to containerd's config (version 3). */
  String config() {
    return "\n[stream_processors.'"
        + ID
        + "']\n"
        + "  accepts = ['"
        + ENCRYPTED
        + "']\n"
        + "  returns = '"
        + RETURNS
        + "'\n"
        + "  path = '"
        + script
        + "'\n"
        + "  args = []\n"
        + "  env = []\n";
  }

  /** {@code gzip} encrypted with the key file's key. */
  byte[] encrypt(byte[] gzip) throws GeneralSecurityException {
    return encrypt(gzip, key);
  }

  /** The key the processor uses when given {@code payload} (a marshalled Any) on fd 3. */
  static byte[] keyOf(byte[] payload) {
    return sha256(payload);
  }

  static byte[] encrypt(byte[] gzip, byte[] key) throws GeneralSecurityException {
    Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
    c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(IV));
    return c.doFinal(gzip);
  }

  /** Its runs so far: "MEDIATYPE payload" or "MEDIATYPE key-file", one a line. */
  List<String> runs() throws IOException {
    return Files.readAllLines(log);
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
