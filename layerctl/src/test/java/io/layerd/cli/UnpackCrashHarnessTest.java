package io.layerd.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.testkit.EndToEndTest;
import io.layerd.testkit.TarBuilder;
import io.layerd.testkit.TestFiles;
import io.layerd.testkit.TreeManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The crash harness of {@code layerctl unpack}: the real process, killed with SIGKILL at a seeded
 * random moment while it unpacks a layer into a new DEST, again and again into the same DEST. After
 * each kill DEST is absent or whole (never half a layer); the next run succeeds and DEST then holds
 * exactly the layer. The seed is printed and taken from {@code -Dlayerd.crash.seed}, the number of
 * trials from {@code -Dlayerd.crash.trials}.
 */
class UnpackCrashHarnessTest {
  private static final TreeManifest.Options TREE =
      TreeManifest.Options.builder().ignoreRootAttributes().build();

  @EndToEndTest
  void sigkillAtRandomPointsLeavesNoHalfDest() throws Exception {
    harness(false);
  }

  /** What the kills leave beside DEST: the next run removes its dead predecessors' staging. */
  @EndToEndTest
  void theNextRunRemovesStaleStaging() throws Exception {
    harness(true);
  }

  private static void harness(boolean noStagingLeft) throws Exception {
    long seed = Long.getLong("layerd.crash.seed", System.nanoTime());
    int trials = Integer.getInteger("layerd.crash.trials", 8);
    Random random = new Random(seed);
    Path dir = TestFiles.scratchDirectory("ucrash");
    try {
      TarBuilder t = TarBuilder.create();
      for (int d = 0; d < 20; d++) {
        t.dir("d" + d);
        for (int i = 0; i < 100; i++) {
          t.file("d" + d + "/f" + i, 4096 + 31 * i);
        }
      }
      Path layer = dir.resolve("layer.tar.gz");
      Files.write(layer, t.gzip());
      Path ref = dir.resolve("ref");
      Cli.run("--rootless=false", "unpack", layer.toString(), ref.toString()).ok();
      TreeManifest expected = TreeManifest.of(ref, TREE);

      Path dest = dir.resolve("dest");
      int killed = 0;
      int finished = 0;
      for (int trial = 0; trial < trials; trial++) {
        String where = "seed " + seed + ", trial " + trial;
        Process p = start(layer, dest, dir.resolve("run" + trial + ".log"));
        Thread.sleep(100 + random.nextInt(1500));
        if (p.isAlive()) {
          p.destroyForcibly(); // SIGKILL
          killed++;
        } else {
          finished++;
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), where);
        if (Files.exists(dest)) {
          assertEquals(
              List.of(), expected.diff(TreeManifest.of(dest, TREE)), where + ": DEST is half made");
          TestFiles.deleteTree(dest);
        }
      }
      Process last = start(layer, dest, dir.resolve("last.log"));
      assertTrue(last.waitFor(120, TimeUnit.SECONDS), "the next run ends");
      assertEquals(
          0,
          last.exitValue(),
          "the next run after the kills: " + Files.readString(dir.resolve("last.log")));
      assertEquals(List.of(), expected.diff(TreeManifest.of(dest, TREE)), "DEST after the kills");
      if (noStagingLeft) {
        try (Stream<Path> s = Files.list(dir)) {
          assertEquals(
              List.of(),
              s.filter(p -> p.getFileName().toString().contains("layerd-staging")).toList(),
              "staging left beside DEST");
        }
      }
      System.out.printf(
          "layerctl crash harness: seed %d: %d trials, %d SIGKILLs during an unpack, %d runs"
              + " finished first: DEST never half made%n",
          seed, trials, killed, finished);
    } finally {
      TestFiles.deleteTree(dir);
    }
  }

  private static Process start(Path layer, Path dest, Path log) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of("--rootless=false", "unpack", layer.toString(), dest.toString()));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }
}
