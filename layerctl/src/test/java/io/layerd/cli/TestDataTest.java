package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.TestData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * testdata/ holds unmodified third-party files: each is listed in testdata/README.md (in the table
 * of sources and with its sha256), and has exactly that digest.
 */
class TestDataTest {
  private static final Pattern LINE = Pattern.compile("^([0-9a-f]{64})  (\\S+)$");

  @Test
  void everyFileIsListedWithItsSourceAndDigest() throws IOException, NoSuchAlgorithmException {
    Path root = TestData.root().resolve("testdata");
    String readme = Files.readString(root.resolve("README.md"), StandardCharsets.UTF_8);
    Map<String, String> listed = new TreeMap<>();
    for (String line : readme.lines().toList()) {
      Matcher m = LINE.matcher(line);
      if (m.matches()) {
        listed.put(m.group(2), m.group(1));
      }
    }
    Map<String, String> actual = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        String rel = root.relativize(p).toString();
        if (!rel.equals("README.md")) {
          actual.put(rel, sha256(p));
        }
      }
    }
    assertEquals(listed, actual, "testdata/README.md's checksums against the files");
    for (String file : actual.keySet()) {
      String top = file.split("/")[0] + "/" + file.split("/")[1];
      assertTrue(
          readme.contains("| " + top + " |") || readme.contains("| " + top + "/ |"),
          file + " has a row in the table of sources");
    }
  }

  private static String sha256(Path p) throws IOException, NoSuchAlgorithmException {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = new DigestInputStream(Files.newInputStream(p), md)) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
