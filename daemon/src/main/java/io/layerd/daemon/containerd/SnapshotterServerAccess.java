package io.layerd.daemon.containerd;

/** What callers outside this package may know of the snapshotter's layout. */
public final class SnapshotterServerAccess {
  private SnapshotterServerAccess() {}

  /** The engine layer ids of containerd's snapshots start with this. */
  public static final String LAYER_PREFIX = Snapshotter.LAYER_PREFIX;
}
