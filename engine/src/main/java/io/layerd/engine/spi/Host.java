package io.layerd.engine.spi;

import io.layerd.sys.Executables;
import io.layerd.sys.Sys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The facts about this machine that drivers decide on: the kernel, whether we are root and whether
 * inside a user namespace, what filesystem a path is on, where a helper binary is. Each fact is
 * real by default; tests replace one at a time with {@link #toBuilder()}.
 */
public final class Host {
  private final KernelVersion kernel;
  private final boolean root;
  private final boolean userNamespace;
  private final FilesystemProbe filesystems;
  private final Function<String, Optional<Path>> binaries;

  private Host(Builder b) {
    this.kernel = b.kernel;
    this.root = b.root;
    this.userNamespace = b.userNamespace;
    this.filesystems = b.filesystems;
    this.binaries = b.binaries;
  }

  /** The facts of the running process. */
  public static Host current() throws IOException {
    Builder b = new Builder();
    b.kernel = KernelVersion.parse(Sys.uname().release());
    b.root = Sys.geteuid() == 0;
    b.userNamespace = readUserNamespace();
    b.filesystems = FilesystemProbe.system();
    b.binaries = Host::which;
    return b.build();
  }

  public KernelVersion kernel() {
    return kernel;
  }

  /** Effective uid 0 (real root, or root inside a user namespace). */
  public boolean root() {
    return root;
  }

  /** Inside a user namespace that does not map every id (rootless). */
  public boolean inUserNamespace() {
    return userNamespace;
  }

  /**
   * Root of the initial user namespace: what mknod of devices and {@code trusted.*} xattrs need,
   * and what makes /var/lib/layerd the default data-root.
   */
  public boolean realRoot() {
    return root && !userNamespace;
  }

  public FilesystemProbe filesystems() {
    return filesystems;
  }

  /** The path of a helper binary on PATH, if any. */
  public Optional<Path> binary(String name) {
    return binaries.apply(name);
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.kernel = kernel;
    b.root = root;
    b.userNamespace = userNamespace;
    b.filesystems = filesystems;
    b.binaries = binaries;
    return b;
  }

  /** Replaces facts, one at a time. */
  public static final class Builder {
    private KernelVersion kernel;
    private boolean root;
    private boolean userNamespace;
    private FilesystemProbe filesystems;
    private Function<String, Optional<Path>> binaries;

    private Builder() {}

    public Builder kernel(KernelVersion k) {
      this.kernel = Objects.requireNonNull(k);
      return this;
    }

    public Builder root(boolean r) {
      this.root = r;
      return this;
    }

    public Builder userNamespace(boolean u) {
      this.userNamespace = u;
      return this;
    }

    public Builder filesystems(FilesystemProbe p) {
      this.filesystems = Objects.requireNonNull(p);
      return this;
    }

    public Builder binaries(Function<String, Optional<Path>> b) {
      this.binaries = Objects.requireNonNull(b);
      return this;
    }

    public Host build() {
      return new Host(this);
    }
  }

  static boolean readUserNamespace() throws IOException {
    String map = Files.readString(Path.of("/proc/self/uid_map"), StandardCharsets.US_ASCII).trim();
    return !map.matches("0\\s+0\\s+4294967295");
  }

  /** The first executable {@code name} on PATH (or the name itself when it is a path). */
  public static Optional<Path> which(String name) {
    return Executables.which(name);
  }
}
