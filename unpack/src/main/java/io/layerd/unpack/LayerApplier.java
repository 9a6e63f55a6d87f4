package io.layerd.unpack;

import io.layerd.idmap.UnmappedIdException;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.Sys;
import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Applies a layer (a tar stream, compressed or not) to a directory, as the OCI image spec's layer
 * rules say, without ever writing outside that directory.
 *
 * <p>Every path is resolved under the root with directory descriptors ({@link RootedTree}): an
 * absolute symlink resolves as if the root were "/", ".." stops at the root, a hardlink's target is
 * resolved in the root without following its last component, and owners, modes, xattrs and times
 * are set on descriptors or with AT_SYMLINK_NOFOLLOW, never through a symlink. An existing entry in
 * the way is unlinked before the new one is made (a directory over a directory is kept), so nothing
 * is ever written through an existing symlink or hardlink.
 *
 * <p>One apply runs the layer's entries through an {@link EntryDispatcher} over parts that share
 * one {@link ApplyState}: {@link EntryMaker} (each kind of entry), {@link Whiteouts}, {@link
 * EntryAttributes} (owner, mode, xattrs, times, in that order) and the {@link WriterGate} (which
 * regular files the writer threads may make, and when the applying thread waits for them).
 *
 * <p>Instances are immutable and thread-safe; use {@link #builder()}.
 */
public final class LayerApplier {
  private final WhiteoutMode whiteouts;
  private final OverlayXattrs overlayXattrs;
  private final OwnerMapper owners;
  private final boolean strictDevices;
  private final boolean sync;
  private final List<Path> lowers;
  private final int writers;
  private final ApplyProgress progress;

  private LayerApplier(Builder b) {
    this.whiteouts = b.whiteouts;
    this.overlayXattrs = b.overlayXattrs;
    this.owners = b.owners;
    this.strictDevices = b.strictDevices;
    this.sync = b.sync;
    this.lowers = List.copyOf(b.lowers);
    this.writers = b.writers;
    this.progress = b.progress;
  }

  /** What follows this applier's runs ({@link ApplyProgress#NONE} unless the builder gave one). */
  public ApplyProgress progress() {
    return progress;
  }

  /**
   * The default number of writer threads: {@code -Dlayerd.unpack.writers=N}, else one per core, at
   * least one and at most four (creating inodes and copying into the page cache is kernel work that
   * runs beside the decoder and the digest; on tmpfs more writers cost nothing measurable).
   */
  static int defaultWriters() {
    String p = System.getProperty("layerd.unpack.writers");
    if (p != null) {
      try {
        return Math.max(0, Integer.parseInt(p.trim()));
      } catch (NumberFormatException e) {
        // fall through to the default
      }
    }
    return Math.min(4, Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Options of an applier; every one has a default that suits a plain directory. */
  public static final class Builder {
    private WhiteoutMode whiteouts = WhiteoutMode.APPLY;
    private OverlayXattrs overlayXattrs = OverlayXattrs.TRUSTED;
    private List<Path> lowers = List.of();
    private OwnerMapper owners = Sys.geteuid() == 0 ? OwnerMapper.identity() : OwnerMapper.keep();
    private boolean strictDevices;
    private boolean sync;
    private int writers = defaultWriters();
    private ApplyProgress progress = ApplyProgress.NONE;

    private Builder() {}

    /** Told how each apply advances (default: nothing is). */
    public Builder progress(ApplyProgress p) {
      this.progress = Objects.requireNonNull(p);
      return this;
    }

    /**
     * Threads that create and write regular files beside the applying thread (default: {@code
     * -Dlayerd.unpack.writers}, else one per core, one to four); 0 writes everything on the
     * applying thread. Every ordering rule of the archive holds either way.
     */
    public Builder writers(int threads) {
      if (threads < 0) {
        throw new IllegalArgumentException("writers must be 0 or more");
      }
      this.writers = threads;
      return this;
    }

    /** How whiteouts are applied (default: APPLY). */
    public Builder whiteouts(WhiteoutMode mode) {
      this.whiteouts = Objects.requireNonNull(mode);
      return this;
    }

    /** Which xattr namespace OVERLAY whiteouts use (default: TRUSTED). */
    public Builder overlayXattrs(OverlayXattrs x) {
      this.overlayXattrs = Objects.requireNonNull(x);
      return this;
    }

    /**
     * How tar owners become chown ids (default: identity as root or in a user namespace, keep
     * otherwise).
     */
    public Builder owners(OwnerMapper mapper) {
      this.owners = Objects.requireNonNull(mapper);
      return this;
    }

    /** Fail on a device node that cannot be made, instead of skipping and counting it. */
    public Builder strictDevices(boolean strict) {
      this.strictDevices = strict;
      return this;
    }

    /**
     * The read-only lower layers under the target, nearest first, for OVERLAY mode: a hardlink
     * whose target only a lower layer holds copies that file up first (with every other visible
     * name of it, as one group), as overlayfs would, and then links to the copy.
     */
    public Builder lowers(List<Path> dirs) {
      this.lowers = List.copyOf(dirs);
      return this;
    }

    /** Flush the target's filesystem (syncfs) before returning. */
    public Builder sync(boolean sync) {
      this.sync = sync;
      return this;
    }

    public LayerApplier build() {
      return new LayerApplier(this);
    }
  }

  /**
   * What the caller expects of a layer; null fields are not checked. Each given value is checked
   * when made, before any work: {@code sha256:} and 64 hex digits (the one algorithm layerd
   * verifies), else IllegalArgumentException naming the value.
   */
  public record Expect(String digest, String diffId) {
    public static final Expect NOTHING = new Expect(null, null);

    private static final java.util.regex.Pattern SHA256 =
        java.util.regex.Pattern.compile("(?i)sha256:[0-9a-f]{64}");

    public Expect {
      checkDigest("digest", digest);
      checkDigest("diffID", diffId);
    }

    private static void checkDigest(String what, String value) {
      if (value != null && !SHA256.matcher(value).matches()) {
        throw new IllegalArgumentException(
            "the expected "
                + what
                + " '"
                + Names.brief(Names.bytes(value))
                + "' is not a sha256 digest: give sha256: and 64 hex digits"
                + (value.indexOf(':') > 0 && !value.regionMatches(true, 0, "sha256:", 0, 7)
                    ? " (layerd verifies only sha256)"
                    : ""));
      }
    }
  }

  /** Applies a layer to the directory {@code target}, which must exist. */
  public ApplyResult apply(String layerName, InputStream layer, Path target, Expect expect)
      throws IOException {
    try (Fd root = Sys.openDirectory(target.toString())) {
      return apply(layerName, layer, root.get(), expect);
    }
  }

  /**
   * Applies a layer to the directory open as {@code rootFd}. On failure the target may hold part of
   * the layer: callers that must not show a half-made layer apply into a staging directory.
   */
  public ApplyResult apply(String layerName, InputStream layer, int rootFd, Expect expect)
      throws IOException {
    long cpu = LayerPipeline.cpu();
    LayerPipeline.trace("apply starts");
    ApplyState state =
        new ApplyState(layerName, rootFd, whiteouts, overlayXattrs, strictDevices, owners);
    EntryDispatcher run = new EntryDispatcher(state);
    LayerPipeline opened;
    try {
      opened = LayerPipeline.start(layer); // reads the magic; decoding and digests run beside
      progress.reading(opened::bytesRead);
    } catch (IOException ex) {
      throw new LayerApplyException(layerName, null, -1, ex);
    }
    try (LayerPipeline stream = opened;
        RootedTree tree = new RootedTree(rootFd, run::implied, run::beforeCreating);
        LowerFds lowerFds = LowerFds.open(whiteouts == WhiteoutMode.OVERLAY ? lowers : List.of());
        Writers pool = writers > 0 ? new Writers(writers, WriterGate.WRITE_QUEUE) : null) {
      state.tree = tree;
      state.tar = stream.tar();
      state.writers = pool;
      if (pool != null) {
        stream.tar().beforeWait(pool::flush); // no file waits in a batch while the reader waits
      }
      if (!lowerFds.fds.isEmpty()) {
        state.copyUp = new CopyUp(lowerFds.fds, overlayXattrs);
      }
      TarReader reader = new TarReader(stream.tar());
      TarEntry e = null;
      try {
        while ((e = reader.next()) != null) {
          state.entries++;
          if ((state.entries & 63) == 0) {
            progress.advanced(stream.bytesRead(), state.entries);
          }
          run.apply(e, reader);
          if (pool != null && pool.failure() != null) {
            break;
          }
        }
        e = null;
        progress.advanced(stream.bytesRead(), state.entries);
        LayerPipeline.trace("tar read");
        run.finish();
      } catch (LayerApplyException | UnmappedIdException ex) {
        throw ex; // the unmapped-id error already names the layer, the entry and the remedy
      } catch (InvalidArchiveException ex) {
        throw new LayerApplyException(layerName, null, ex.offset(), ex);
      } catch (IOException ex) {
        run.rethrowWriterFailure();
        throw new LayerApplyException(
            layerName, e == null ? null : e.displayName(), e == null ? -1 : e.offset(), ex);
      } catch (RuntimeException ex) {
        run.rethrowWriterFailure();
        throw new LayerApplyException(
            layerName,
            e == null ? null : e.displayName(),
            e == null ? -1 : e.offset(),
            new IOException(ex.toString(), ex));
      } finally {
        run.releaseDirRef(); // the writers' jobs hold their own references
      }
      ApplyResult.Digests d;
      try {
        d = stream.finish();
      } catch (IOException ex) {
        throw new LayerApplyException(layerName, null, -1, ex);
      }
      check(layerName, "digest", expect.digest(), d.digest());
      check(layerName, "diffID", expect.diffId(), d.diffId());
      if (sync) {
        Sys.syncfs(rootFd);
      }
      LayerPipeline.traceSince("applied (CPU of the apply)", cpu);
      return state.result(d);
    }
  }

  /** Descriptors of the lower layers' directories, open for one apply. */
  private static final class LowerFds implements AutoCloseable {
    final List<Integer> fds = new ArrayList<>();

    static LowerFds open(List<Path> dirs) throws IOException {
      LowerFds l = new LowerFds();
      try {
        for (Path d : dirs) {
          l.fds.add(
              Sys.openat(
                  Sys.AT_FDCWD, Names.bytes(d.toString()), Sys.O_RDONLY | Sys.O_DIRECTORY, 0));
        }
      } catch (IOException | RuntimeException e) {
        l.close();
        throw e;
      }
      return l;
    }

    @Override
    public void close() {
      for (int fd : fds) {
        Sys.closeQuietly(fd);
      }
    }
  }

  private static void check(String layer, String what, String expected, String actual)
      throws LayerApplyException {
    if (expected != null && !expected.equalsIgnoreCase(actual)) {
      throw new LayerApplyException(
          layer,
          null,
          -1,
          new DigestMismatchException(
              what
                  + " mismatch: expected "
                  + expected
                  + " but the layer's bytes give "
                  + actual
                  + " (a corrupt or substituted layer)"));
    }
  }

  /**
   * The components of an entry name, cleaned as if rooted at "/": empty and "." components dropped,
   * ".." removing the one before it and never climbing above the root.
   */
  static List<byte[]> clean(byte[] name) {
    List<byte[]> out = new ArrayList<>();
    for (byte[] c : Names.split(name)) {
      if (Names.isDot(c)) {
        continue;
      }
      if (Names.isDotDot(c)) {
        if (!out.isEmpty()) {
          out.remove(out.size() - 1);
        }
        continue;
      }
      out.add(c);
    }
    return out;
  }
}
