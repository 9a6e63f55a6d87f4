package io.layerd.daemon;

import io.layerd.idmap.internal.RootlessNamespace;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The dockerd on PATH and its major version, which decides how it reaches layerd: up to 27 through
 * the graph-driver plugin, from 28 (which removed plugins) through containerd's snapshotter.
 */
record Dockerd(String path, String versionLine, int major) {
  /** The first Docker without graph-driver plugins (moby#48072). */
  static final int FIRST_WITHOUT_PLUGINS = 28;

  private static final Pattern VERSION = Pattern.compile("[Vv]ersion v?(\\d+)\\.(\\d+)");

  /** True when this dockerd reaches layerd as a containerd snapshotter only. */
  boolean containerdRoute() {
    return major >= FIRST_WITHOUT_PLUGINS;
  }

  /** Finds dockerd on PATH and asks it for its version ({@code dockerd --version}). */
  static Dockerd find() throws IOException {
    String path;
    try {
      path = RootlessNamespace.findTool("dockerd");
    } catch (IOException e) {
      throw new IOException(
          "dockerd is not on PATH: install Docker (Debian: apt-get install docker.io)", e);
    }
    Process p =
        new ProcessBuilder(List.of(path, "--version"))
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(path + " --version did not answer within 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while asking " + path + " for its version", e);
    }
    OptionalInt major = major(out);
    if (p.exitValue() != 0 || major.isEmpty()) {
      throw new IOException(
          "cannot tell the version of " + path + " from `dockerd --version`: " + out);
    }
    return new Dockerd(path, out, major.getAsInt());
  }

  /** The major version in {@code dockerd --version}'s output ("Docker version 28.5.2, ..."). */
  static OptionalInt major(String versionOutput) {
    Matcher m = VERSION.matcher(versionOutput);
    return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
  }
}
