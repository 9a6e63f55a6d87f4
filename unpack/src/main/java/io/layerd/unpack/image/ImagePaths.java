package io.layerd.unpack.image;

import java.util.ArrayList;
import java.util.List;

/**
 * Names of files inside an image (a manifest.json path, a blob path, a tar member), which come from
 * hostile input: only relative names that stay inside the image are accepted.
 */
final class ImagePaths {
  private ImagePaths() {}

  /**
   * The clean form of a name the image gives ({@code what} says where it came from, for the
   * message): "." and empty components dropped; an absolute name, a ".." component or a NUL byte is
   * refused.
   */
  static String clean(String name, String what) throws ImageException {
    if (name == null || name.isEmpty()) {
      throw new ImageException(what + " is empty");
    }
    if (name.indexOf('\0') >= 0) {
      throw new ImageException(what + " '" + printable(name) + "' holds a NUL byte");
    }
    if (name.startsWith("/")) {
      throw new ImageException(
          what + " '" + printable(name) + "' is an absolute path: only names inside the image");
    }
    List<String> out = components(name);
    if (out == null) {
      throw new ImageException(
          what + " '" + printable(name) + "' climbs out of the image with '..': refused");
    }
    if (out.isEmpty()) {
      throw new ImageException(what + " '" + printable(name) + "' names no file");
    }
    return String.join("/", out);
  }

  /**
   * The components of a relative name without "." and empty ones, or null when one is "..". Leading
   * slashes are dropped (a tar member "/x" is "x", as GNU tar reads it).
   */
  static List<String> components(String name) {
    List<String> out = new ArrayList<>();
    for (String c : name.split("/", -1)) {
      if (c.isEmpty() || c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        return null;
      }
      out.add(c);
    }
    return out;
  }

  /** The name with control characters escaped, for messages. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < 300; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        b.append(String.format("\\x%02x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
