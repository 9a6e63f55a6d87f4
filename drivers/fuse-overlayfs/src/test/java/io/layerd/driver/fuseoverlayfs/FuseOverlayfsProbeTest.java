package io.layerd.driver.fuseoverlayfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.DriverContext;
import io.layerd.engine.spi.DriverRefusal;
import io.layerd.engine.spi.Host;
import io.layerd.engine.spi.KernelVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Probe refusals from replaced host facts (no binary, an old kernel, no FUSE device, an old or mute
 * binary): no privileges, no mounts — every refusal here comes before the test mount.
 */
class FuseOverlayfsProbeTest {
  @TempDir Path dataRoot;
  @TempDir Path bin;

  private final Path noDevice = Path.of("/nonexistent/layerd-test/fuse");

  /** Root of a user namespace on a recent kernel: what rootless layerd sees. */
  private static Host.Builder rootless() throws IOException {
    return Host.current().toBuilder()
        .kernel(KernelVersion.parse("6.1.0-18-amd64"))
        .root(true)
        .userNamespace(true);
  }

  private static Host.Builder realRoot() throws IOException {
    return rootless().userNamespace(false);
  }

  private DriverContext context(Host host) {
    return new DriverContext(dataRoot, dataRoot.resolve("fuse-overlayfs"), host, Map.of());
  }

  private DriverRefusal refusal(FuseOverlayfsProvider p, Host host) {
    DriverRefusal r = assertThrows(DriverRefusal.class, () -> p.probe(context(host)));
    assertEquals("fuse-overlayfs", r.driver());
    assertFalse(Files.exists(dataRoot.resolve("fuse-overlayfs")), "a refused probe leaves no home");
    return r;
  }

  private Path fakeBinary(String output) throws IOException {
    Path f = bin.resolve("fuse-overlayfs");
    Files.writeString(f, "#!/bin/sh\necho '" + output + "'\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
    return f;
  }

  @Test
  void noBinaryNamesThePackage() throws IOException {
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice),
            rootless().binaries(n -> Optional.empty()).build());
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("fuse-overlayfs binary is not on the PATH"), r.reason());
    assertTrue(r.reason().contains("apt-get install fuse-overlayfs"), r.reason());
  }

  @Test
  void kernel417IsTooOldInAUserNamespace() throws IOException {
    Host host =
        rootless()
            .kernel(KernelVersion.parse("4.17.19"))
            .binaries(n -> Optional.of(Path.of("/unused")))
            .build();
    DriverRefusal r = refusal(new FuseOverlayfsProvider(noDevice), host);
    assertEquals(DriverRefusal.Kind.PREREQUISITES_MISSING, r.kind());
    assertTrue(r.reason().contains("kernel 4.17.19 is older than 4.18"), r.reason());
  }

  @Test
  void kernel417IsFineForRealRoot() throws IOException {
    Host host =
        realRoot().kernel(KernelVersion.parse("4.17.19")).binaries(n -> Optional.empty()).build();
    DriverRefusal r = refusal(new FuseOverlayfsProvider(noDevice), host);
    assertFalse(r.reason().contains("4.18"), r.reason());
  }

  @Test
  void noFuseDeviceSaysHowToGetOne() throws IOException {
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice),
            rootless().binaries(n -> Optional.empty()).build());
    assertTrue(r.reason().contains(noDevice + " does not exist"), r.reason());
    assertTrue(r.reason().contains("modprobe fuse"), r.reason());
  }

  @Test
  void everyMissingPrerequisiteIsNamedAtOnce() throws IOException {
    Host host =
        rootless().kernel(KernelVersion.parse("4.15.0")).binaries(n -> Optional.empty()).build();
    String reason = refusal(new FuseOverlayfsProvider(noDevice), host).reason();
    assertTrue(reason.contains("not on the PATH"), reason);
    assertTrue(reason.contains("older than 4.18"), reason);
    assertTrue(reason.contains("does not exist"), reason);
    assertEquals(3, reason.split("; ").length, reason);
  }

  @Test
  void tooOldAVersionForAUserNamespace() throws IOException {
    Path f = fakeBinary("fuse-overlayfs: version 1.7.1");
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice), rootless().binaries(n -> Optional.of(f)).build());
    assertTrue(
        r.reason().contains("fuse-overlayfs 1.7.1 at " + f + " is older than 1.8"), r.reason());
    assertTrue(r.reason().contains("user.overlay.opaque"), r.reason());
  }

  @Test
  void tooOldAVersionForRoot() throws IOException {
    Path f = fakeBinary("fuse-overlayfs: version 1.0");
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice), realRoot().binaries(n -> Optional.of(f)).build());
    assertTrue(r.reason().contains("1.0 at " + f + " is older than 1.1"), r.reason());
  }

  @Test
  void aBinaryThatDoesNotTellItsVersion() throws IOException {
    Path f = fakeBinary("hello");
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice), rootless().binaries(n -> Optional.of(f)).build());
    assertTrue(r.reason().contains("does not tell its version"), r.reason());
  }

  @Test
  void aPlainUserIsNotSupported() throws IOException {
    DriverRefusal r =
        refusal(
            new FuseOverlayfsProvider(noDevice),
            rootless().root(false).userNamespace(false).build());
    assertEquals(DriverRefusal.Kind.NOT_SUPPORTED, r.kind());
    assertTrue(r.reason().contains("user namespace"), r.reason());
  }

  @Test
  void theProviderIsRegistered() {
    assertTrue(
        java.util.ServiceLoader.load(io.layerd.engine.spi.DriverProvider.class).stream()
            .anyMatch(p -> p.type() == FuseOverlayfsProvider.class));
    assertEquals(20, new FuseOverlayfsProvider().priority());
    assertEquals("fuse-overlayfs", new FuseOverlayfsProvider().name());
  }

  @Test
  void theProbeCacheKeyFollowsTheBinary() throws IOException {
    FuseOverlayfsProvider p = new FuseOverlayfsProvider();
    Host none = rootless().binaries(n -> Optional.empty()).build();
    assertEquals(java.util.List.of("no-binary"), p.probeInputs(context(none)));
    Path fake = Files.writeString(bin.resolve("fuse-overlayfs"), "#!/bin/sh\necho 1\n");
    Host one = rootless().binaries(n -> Optional.of(fake)).build();
    String before = p.probeInputs(context(one)).get(0);
    assertTrue(before.startsWith(fake + ":"), before);
    Files.writeString(fake, "#!/bin/sh\necho fuse-overlayfs: version 1.13\n"); // upgraded
    Files.setLastModifiedTime(
        fake, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
    assertFalse(before.equals(p.probeInputs(context(one)).get(0)), "a new binary, a new key");
  }
}
