package io.layerd.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.testkit.Require;
import io.layerd.testkit.TreeManifest;
import java.io.IOException;

/** What every end-to-end suite checks, against the built-in vfs reference. */
final class EndToEndChecks {
  private EndToEndChecks() {}

  /** The peers every suite needs: root, dockerd 20.10, its CLI, GNU tar. */
  static void requirePeers() {
    Require.root();
    Require.command("dockerd");
    Require.command(DockerHost.dockerBinary());
    Require.command("tar");
  }

  static void sameAsBuiltInVfs(DockerHost h, DockerScenario.Outcome ref, DockerScenario.Outcome o) {
    sameAs(h, "dockerd's built-in vfs", ref, o);
  }

  /** What {@code o} showed equals what the reference ({@code refName}) showed. */
  static void sameAs(
      DockerHost h, String refName, DockerScenario.Outcome ref, DockerScenario.Outcome o) {
    String who = h.describe();
    assertEquals(ref.runOutput(), o.runOutput(), who + ": docker run's output");
    assertEquals(ref.cpOut(), o.cpOut(), who + ": docker cp out");
    assertEquals(String.join("\n", ref.diff()), String.join("\n", o.diff()), who + ": docker diff");
    assertTree(who + ": docker export of a created container", refName, ref.created(), o.created());
    assertTree(who + ": docker export after run and cp", refName, ref.ran(), o.ran());
    assertTree(
        who + ": docker export of the committed image", refName, ref.committed(), o.committed());
    assertEquals(ref.runCommittedOutput(), o.runCommittedOutput(), who + ": run of the commit");
    assertEquals(ref.savedLayers(), o.savedLayers(), who + ": docker save");
    // A check of the check: the trees compared are whole root filesystems.
    assertTrue(ref.created().entries().size() > 400, "the reference export is BusyBox's tree");
    System.out.printf(
        "%s: exports of %d, %d and %d entries and %d docker diff lines equal %s%n",
        who,
        o.created().entries().size(),
        o.ran().entries().size(),
        o.committed().entries().size(),
        o.diff().size(),
        refName);
  }

  private static void assertTree(
      String what, String refName, TreeManifest expected, TreeManifest actual) {
    try {
      TreeManifest.assertSame(expected, actual);
    } catch (AssertionError e) {
      throw new AssertionError(what + " differs from " + refName + ":\n" + e.getMessage(), e);
    }
  }

  /** The "Layers" line of the driver's Status, through {@code docker info}. */
  static int layersInStatus(DockerHost h) throws IOException {
    String json = h.docker("info", "--format", "{{json .DriverStatus}}").ok().stdout();
    for (JsonNode pair : new ObjectMapper().readTree(json)) {
      if (pair.get(0).asText().equals("Layers")) {
        return Integer.parseInt(pair.get(1).asText());
      }
    }
    throw new AssertionError("docker info shows no Layers line: " + json);
  }
}
