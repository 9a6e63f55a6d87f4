package io.layerd.unpack;

import io.layerd.idmap.IdKind;
import io.layerd.idmap.IdRemapper;
import io.layerd.idmap.UnmappedIdPolicy;
import java.io.IOException;

/**
 * Owners through the idmap module: each layer gets its own {@link IdRemapper.LayerRemap}, so that
 * an unmapped id is reported (or squashed, or skipped and counted) naming the layer, the entry, the
 * id, the mapped ranges and where they come from, and the remedy.
 */
public final class IdOwners implements OwnerMapper {
  private final IdRemapper remapper;
  private final IdRemapper.LayerRemap layer;

  private IdOwners(IdRemapper remapper, IdRemapper.LayerRemap layer) {
    this.remapper = remapper;
    this.layer = layer;
  }

  /** Owners for this process (its user namespace's mapping), under a policy. */
  public static IdOwners forCurrentProcess(UnmappedIdPolicy policy) throws IOException {
    return of(IdRemapper.forCurrentProcess(policy));
  }

  public static IdOwners of(IdRemapper remapper) {
    return new IdOwners(remapper, remapper.forLayer("(layer)"));
  }

  @Override
  public OwnerMapper forLayer(String layerName) {
    return new IdOwners(remapper, remapper.forLayer(layerName));
  }

  @Override
  public long uid(long containerUid, TarEntry entry) throws IOException {
    return layer.map(IdKind.UID, path(entry), containerUid);
  }

  @Override
  public long gid(long containerGid, TarEntry entry) throws IOException {
    return layer.map(IdKind.GID, path(entry), containerGid);
  }

  @Override
  public long tarUid(long fileUid) {
    return remapper.containerId(IdKind.UID, fileUid);
  }

  @Override
  public long tarGid(long fileGid) {
    return remapper.containerId(IdKind.GID, fileGid);
  }

  @Override
  public IOException chownFailed(TarEntry entry, long uid, long gid, IOException failure) {
    return layer.explainChownFailure(path(entry), uid, gid, failure);
  }

  /** Entries whose unmapped owner went to the namespace's root (squash). */
  public long squashedEntries() {
    return layer.squashedEntries();
  }

  private static String path(TarEntry entry) {
    return entry == null ? "." : entry.displayName();
  }
}
