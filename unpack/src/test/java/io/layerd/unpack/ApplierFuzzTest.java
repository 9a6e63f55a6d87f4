package io.layerd.unpack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.layerd.testkit.TestFiles;
import io.layerd.unpack.internal.Staging;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fuzzing the applier with the breakout oracle: any bytes applied as a layer, staged into a new
 * directory {@code root/layer} beside a victim directory full of host secrets, either apply or fail
 * with a {@link LayerApplyException}; either way nothing outside it changed (every name, mode,
 * owner, inode, time and content of the sandbox is compared, and {@code root/} holds nothing else),
 * no secret was read into it, and a failure leaves neither it nor a staging directory behind.
 */
class ApplierFuzzTest {
  private static BreakoutCases.Host host;
  private static HostSnapshot before;

  /** The sandbox, made once per JVM at the path the breakout seeds name. */
  private static synchronized BreakoutCases.Host host() {
    if (host == null) {
      try {
        Path sandbox = Path.of("/tmp/layerd-fuzz-host/sandbox");
        if (Files.exists(sandbox.getParent())) {
          TestFiles.deleteTree(sandbox.getParent());
        }
        host = new BreakoutCases.Host(sandbox);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(sandbox.getParent())));
        BreakoutCases.prepareHost(host);
        before = HostSnapshot.of(sandbox, host.root());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return host;
  }

  private static void delete(Path dir) {
    try {
      TestFiles.deleteTree(dir);
    } catch (IOException e) {
      // the JVM is ending; /tmp keeps it
    }
  }

  static Stream<byte[]> seeds() {
    return Stream.concat(FuzzSeeds.layers().stream(), FuzzSeeds.noise().stream());
  }

  @MethodSource("seeds")
  @FuzzTest
  void applyConfined(byte[] data) throws IOException {
    BreakoutCases.Host h = host();
    Path dest = h.root().resolve("layer");
    LayerApplier applier = LayerApplier.builder().writers(1).build();
    boolean applied;
    try {
      Staging.into(
          dest,
          fd ->
              applier.apply(
                  "fuzz", new ByteArrayInputStream(data), fd, LayerApplier.Expect.NOTHING));
      applied = true;
    } catch (LayerApplyException e) {
      assertNotNull(e.getMessage());
      applied = false;
    }
    try (Stream<Path> inRoot = Files.list(h.root())) {
      assertEquals(
          applied ? List.of(dest) : List.of(),
          inRoot.toList(),
          "beside the layer's directory, after " + (applied ? "applying" : "failing"));
    }
    if (applied) {
      BreakoutTest.assertNoSecretInside(dest);
      TestFiles.deleteTree(dest);
    }
    List<String> changes = before.changes();
    if (!changes.isEmpty()) {
      fail("ESCAPED: the host changed:\n  " + String.join("\n  ", changes));
    }
  }
}
