package io.layerd.sys;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** File names as bytes, and their display form. Names never pass through a lossy decoder. */
public final class Names {
  private Names() {}

  /** The UTF-8 bytes of a string. */
  public static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * A readable form of a name: valid UTF-8 as text, any other byte as {@code \xNN}, and a backslash
   * as {@code \\} so that the form is unambiguous.
   */
  public static String display(byte[] name) {
    CharsetDecoder dec =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    boolean plain = true;
    for (byte b : name) {
      if (b == '\\' || b < 0x20 || b == 0x7f) {
        plain = false;
        break;
      }
    }
    if (plain) {
      try {
        return dec.decode(ByteBuffer.wrap(name)).toString();
      } catch (CharacterCodingException e) {
        // fall through to the escaped form
      }
    }
    StringBuilder sb = new StringBuilder();
    int i = 0;
    while (i < name.length) {
      int b = name[i] & 0xff;
      int len = utf8Length(name, i);
      if (len > 1) {
        sb.append(new String(name, i, len, StandardCharsets.UTF_8));
        i += len;
      } else if (b == '\\') {
        sb.append("\\\\");
        i++;
      } else if (b < 0x20 || b >= 0x7f) {
        sb.append(String.format("\\x%02x", b));
        i++;
      } else {
        sb.append((char) b);
        i++;
      }
    }
    return sb.toString();
  }

  /** The longest text {@link #brief} leaves whole. */
  public static final int BRIEF = 200;

  /**
   * Text for a message, at most about {@value #BRIEF} characters: longer text (a 60,000-byte path)
   * becomes its start, "…", its end and its length, so that a message stays one readable line.
   */
  public static String brief(String s) {
    if (s.length() <= BRIEF) {
      return s;
    }
    int half = BRIEF / 2 - 4;
    int start = half;
    if (Character.isHighSurrogate(s.charAt(start - 1))) {
      start--;
    }
    int end = s.length() - half;
    if (Character.isLowSurrogate(s.charAt(end))) {
      end++;
    }
    return s.substring(0, start) + "…" + s.substring(end) + " (" + s.length() + " characters)";
  }

  /** {@link #display} of a name, made {@link #brief}. */
  public static String brief(byte[] name) {
    return brief(display(name));
  }

  /** The length of a valid multi-byte UTF-8 sequence at i, or 1 when there is none. */
  private static int utf8Length(byte[] s, int i) {
    int b = s[i] & 0xff;
    int n;
    if (b >= 0xc2 && b <= 0xdf) {
      n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
    } else {
      return 1;
    }
    if (i + n > s.length) {
      return 1;
    }
    for (int k = 1; k < n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return 1;
      }
    }
    return new String(s, i, n, StandardCharsets.UTF_8).codePointAt(0) == 0xfffd ? 1 : n;
  }

  /** Splits a slash-separated path into its non-empty components. */
  public static List<byte[]> split(byte[] path) {
    List<byte[]> out = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= path.length; i++) {
      if (i == path.length || path[i] == '/') {
        if (i > start) {
          out.add(Arrays.copyOfRange(path, start, i));
        }
        start = i + 1;
      }
    }
    return out;
  }

  /** Joins components with slashes. */
  public static byte[] join(List<byte[]> parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < parts.size(); i++) {
      if (i > 0) {
        out.write('/');
      }
      out.writeBytes(parts.get(i));
    }
    return out.toByteArray();
  }

  public static boolean isDot(byte[] c) {
    return c.length == 1 && c[0] == '.';
  }

  public static boolean isDotDot(byte[] c) {
    return c.length == 2 && c[0] == '.' && c[1] == '.';
  }

  /** A NUL-terminated copy for C. Rejects a NUL inside the name. */
  static byte[] cstr(byte[] s) {
    byte[] c = Arrays.copyOf(s, s.length + 1);
    for (int i = 0; i < s.length; i++) {
      if (s[i] == 0) {
        throw new IllegalArgumentException("a file name holds a NUL byte: " + display(s));
      }
    }
    return c;
  }
}
