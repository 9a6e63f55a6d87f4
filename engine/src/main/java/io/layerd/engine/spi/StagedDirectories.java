package io.layerd.engine.spi;

import io.layerd.sys.DirEntry;
import io.layerd.sys.Errno;
import io.layerd.sys.Fd;
import io.layerd.sys.Names;
import io.layerd.sys.NativeFailure;
import io.layerd.sys.Sys;
import io.layerd.sys.Trees;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.UUID;

/**
 * Layer directories that are never seen half-made or half-removed, for drivers that keep a layer as
 * a directory of its own. A layer is made in a staging directory under a name of its own and
 * published by one rename into the layers' directory ({@code RENAME_NOREPLACE}: an existing layer
 * is never replaced); it is removed by renaming it out of sight first and only then deleting it,
 * without following any symlink it holds. What a crash leaves (a layer half made, or half removed)
 * is therefore only ever in the staging directory, and {@link #clearLeftOvers} removes it when the
 * driver opens.
 *
 * <p>Names in the staging directory are {@code CREATING NAME SEP TOKEN} for a layer being made and
 * {@code REMOVING NAME SEP TOKEN} for one being removed, where {@code NAME} is the layer
 * directory's name and {@code TOKEN} a random UUID; the prefixes and the separator are the driver's
 * (its documented on-disk layout), see {@link #inDirectory} and {@link #beside}.
 */
public final class StagedDirectories {
  private final Path layers;
  private final Path staging;
  private final String creating;
  private final String removing;
  private final String separator;
  private volatile boolean topMarked; // the staging directory is chattr +T (where ext4 has it)

  private StagedDirectories(
      Path layers, Path staging, String creating, String removing, String separator) {
    this.layers = layers;
    this.staging = staging;
    this.creating = creating;
    this.removing = removing;
    this.separator = separator;
  }

  /**
   * Layers in {@code layers}, staged in a directory of their own, {@code staging} (both on one
   * filesystem): {@code NAME.TOKEN} while made, {@code removing.NAME.TOKEN} while removed. Anything
   * in {@code staging} is a left-over.
   */
  public static StagedDirectories inDirectory(Path layers, Path staging) {
    return new StagedDirectories(layers, staging, "", "removing.", ".");
  }

  /**
   * Layers and their staged directories side by side in {@code home}: {@code CREATING NAME-TOKEN}
   * while made, {@code REMOVING NAME-TOKEN} while removed. The prefixes must be names no layer
   * directory can start with; an entry of {@code home} starting with either is a left-over.
   */
  public static StagedDirectories beside(Path home, String creating, String removing) {
    if (creating.isEmpty() || removing.isEmpty()) {
      throw new IllegalArgumentException("staged directories beside layers need prefixes");
    }
    return new StagedDirectories(home, home, creating, removing, "-");
  }

  /** A layer directory being made: its path and an open descriptor of it (closed afterwards). */
  public record Stage(Path path, int fd) {}

  /** Fills a staged layer directory. */
  @FunctionalInterface
  public interface Filler {
    void fill(Stage stage) throws IOException;
  }

  /**
   * Makes the layer directory {@code name}: a new 0700 directory in the staging directory, filled
   * by {@code filler}, then renamed to {@code layers/name} with {@code RENAME_NOREPLACE} (an
   * existing {@code name} fails with {@link java.nio.file.FileAlreadyExistsException}). A failure
   * leaves nothing behind (or, when even the clean-up fails, a left-over that the next open
   * removes).
   */
  public void create(String name, Filler filler) throws IOException {
    String stageName = creating + name + separator + UUID.randomUUID();
    byte[] stage = Names.bytes(stageName);
    try (Fd s = Sys.openDirectory(staging.toString());
        Fd l = Sys.openDirectory(layers.toString())) {
      if (!topMarked) {
        // Each layer is a tree of its own: on ext4, Orlov then spreads the layers over the block
        // groups rather than filling the staging directory's group, where the inodes of layers
        // removed moments ago lie (without a journal, ext4 skips an inode freed in the last
        // dirty_expire_centisecs one by one, reading each, before it reuses any of them).
        Sys.markTopDirectory(s.get());
        topMarked = true;
      }
      Sys.mkdirat(s.get(), stage, 0700);
      try {
        try (Fd root =
            new Fd(
                Sys.openat(s.get(), stage, Sys.O_RDONLY | Sys.O_DIRECTORY | Sys.O_NOFOLLOW, 0))) {
          filler.fill(new Stage(staging.resolve(stageName), root.get()));
        }
        Sys.renameat2(s.get(), stage, l.get(), Names.bytes(name), Sys.RENAME_NOREPLACE);
      } catch (Throwable e) {
        try {
          removeAll(s.get(), stage);
        } catch (IOException cleanup) {
          e.addSuppressed(cleanup); // removed at the next open; the original failure matters more
        }
        throw e;
      }
    }
  }

  /**
   * Removes the layer directory {@code name}: renames it into the staging directory first (so that
   * a removal cut short never leaves half a layer under its name), then removes it there without
   * following any symlink. False when there was no such layer directory.
   */
  public boolean remove(String name) throws IOException {
    byte[] gone = Names.bytes(removing + name + separator + UUID.randomUUID());
    try (Fd s = Sys.openDirectory(staging.toString());
        Fd l = Sys.openDirectory(layers.toString())) {
      try {
        Sys.renameat2(l.get(), Names.bytes(name), s.get(), gone, Sys.RENAME_NOREPLACE);
      } catch (IOException e) {
        if (NativeFailure.errnoOf(e) == Errno.ENOENT) {
          return false; // already gone
        }
        throw e;
      }
      removeAll(s.get(), gone);
      return true;
    }
  }

  /** Removes what a crash left in the staging directory: layers half made or half removed. */
  public void clearLeftOvers() throws IOException {
    byte[] c = Names.bytes(creating);
    byte[] r = Names.bytes(removing);
    try (Fd s = Sys.openDirectory(staging.toString())) {
      for (DirEntry e : Sys.readDirectory(s.get())) {
        if (startsWith(e.name(), c) || startsWith(e.name(), r)) {
          removeAll(s.get(), e.name());
        }
      }
    }
  }

  private static void removeAll(int dirFd, byte[] name) throws IOException {
    try {
      Trees.removeAll(dirFd, name);
    } catch (IOException e) {
      if (NativeFailure.errnoOf(e) != Errno.ENOENT) {
        throw e;
      }
    }
  }

  private static boolean startsWith(byte[] name, byte[] prefix) {
    return name.length >= prefix.length
        && Arrays.equals(name, 0, prefix.length, prefix, 0, prefix.length);
  }
}
