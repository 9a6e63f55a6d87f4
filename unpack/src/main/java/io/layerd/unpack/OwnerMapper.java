package io.layerd.unpack;

import java.io.IOException;

/**
 * Turns the owner a tar entry states into the ids the applier passes to chown. Implementations may
 * throw (an unmapped id under a "fail" policy) or answer {@link #KEEP} to leave the owner as the
 * file was created.
 */
public interface OwnerMapper {
  /** Leave this id as it is. */
  long KEEP = -1;

  /** The uid to chown to, or {@link #KEEP}. */
  long uid(long containerUid, TarEntry entry) throws IOException;

  /** The gid to chown to, or {@link #KEEP}. */
  long gid(long containerGid, TarEntry entry) throws IOException;

  /**
   * The mapper to use for one layer (it may count and name that layer in its errors); by default
   * this very mapper.
   */
  default OwnerMapper forLayer(String layer) {
    return this;
  }

  /**
   * The error to raise when chown of an entry failed (EINVAL: an id the user namespace does not
   * map). {@code uid} and {@code gid} are the tar's ids. By default the failure itself.
   */
  default IOException chownFailed(TarEntry entry, long uid, long gid, IOException failure) {
    return failure;
  }

  /** The owner of directories the applier makes for entries whose parents are missing. */
  default long rootUid() throws IOException {
    return uid(0, null);
  }

  default long rootGid() throws IOException {
    return gid(0, null);
  }

  /**
   * The reverse, for a layer written from a tree (Diff): the uid a tar entry states for a file
   * owned by {@code fileUid} on disk, or -1 when no tar uid maps to it. By default the same id
   * (what {@link #identity()} and {@link #keep()} want).
   */
  default long tarUid(long fileUid) {
    return fileUid;
  }

  /** The gid a tar entry states for a file whose gid is {@code fileGid}; see {@link #tarUid}. */
  default long tarGid(long fileGid) {
    return fileGid;
  }

  /** Chown to exactly the ids in the tar (real root, or a user namespace mapping all of them). */
  static OwnerMapper identity() {
    return new OwnerMapper() {
      @Override
      public long uid(long containerUid, TarEntry entry) {
        return containerUid;
      }

      @Override
      public long gid(long containerGid, TarEntry entry) {
        return containerGid;
      }
    };
  }

  /** Never chown: every file keeps the caller's ids (a plain unprivileged user, like tar). */
  static OwnerMapper keep() {
    return new OwnerMapper() {
      @Override
      public long uid(long containerUid, TarEntry entry) {
        return KEEP;
      }

      @Override
      public long gid(long containerGid, TarEntry entry) {
        return KEEP;
      }
    };
  }
}
