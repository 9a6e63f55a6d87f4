package io.layerd.engine.spi;

import io.layerd.sys.StatFs;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tells what filesystem a path lives on. The system probe reads statfs and /proc/self/mountinfo;
 * tests replace it to present filesystems this kernel cannot mount (NFS).
 */
@FunctionalInterface
public interface FilesystemProbe {
  FsInfo probe(Path path) throws IOException;

  /** The real probe: statfs(2) for the magic, the longest matching mountinfo line for the rest. */
  static FilesystemProbe system() {
    return path -> {
      Path real = path.toRealPath();
      StatFs fs = Sys.statfs(real.toString());
      String best = "";
      String type = fs.typeName();
      String source = "";
      List<String> options = List.of();
      for (String line :
          Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
        String[] f = line.split(" ");
        int dash = Arrays.asList(f).indexOf("-");
        if (f.length < 5 || dash < 0 || dash + 3 >= f.length) {
          continue;
        }
        String mountPoint = unescape(f[4]);
        if (isUnder(real.toString(), mountPoint) && mountPoint.length() >= best.length()) {
          best = mountPoint;
          type = f[dash + 1];
          source = unescape(f[dash + 2]);
          List<String> opts = new ArrayList<>(Arrays.asList(f[dash + 3].split(",")));
          opts.addAll(Arrays.asList(f[5].split(",")));
          options = opts;
        }
      }
      return new FsInfo(fs.type(), type, best, source, options);
    };
  }

  private static boolean isUnder(String path, String mountPoint) {
    return mountPoint.equals("/")
        || path.equals(mountPoint)
        || path.startsWith(mountPoint.endsWith("/") ? mountPoint : mountPoint + "/");
  }

  /** mountinfo escapes space, tab, newline and backslash as \ooo. */
  private static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length()) {
        try {
          sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
          i += 3;
          continue;
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
          // not an escape
        }
      }
      sb.append(c);
    }
    return sb.toString();
  }
}
