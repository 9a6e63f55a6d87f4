package io.layerd.testkit;

/**
 * The JUnit tags of the test tiers. Plain unit tests carry no tag; the others declare their tier
 * with {@link RootTest}, {@link UserNsTest} or {@link EndToEndTest}, which carry these tags, so
 * that a build can select or exclude a tier ({@code -Dgroups=root}, {@code -DexcludedGroups=e2e}).
 */
public final class Tiers {
  private Tiers() {}

  /** Tests that need root (mknod, trusted.* xattrs, chown to any id, mounts). */
  public static final String ROOT = "root";

  /** Tests that run code as an unprivileged user inside a user namespace. */
  public static final String USERNS = "userns";

  /** Tests that run against real peers (GNU tar, umoci, dockerd, containerd). */
  public static final String E2E = "e2e";
}
