package io.layerd.driver.overlay2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.layerd.engine.spi.Mount;
import io.layerd.engine.spi.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mount shapes and the page budget, without privileges. */
class MountDataTest {
  static final Path HOME = Path.of("/var/lib/layerd/overlay2");
  static final String H = HOME + "/";
  static final String DOCKER_ID = "0123456789abcdef".repeat(4); // 64 hex, as Docker's
  static final String LONGEST_ID = "x".repeat(200); // LayerIds.MAX_LENGTH
  static final OverlayMode ROOT = new OverlayMode(false, true, true, true);
  static final OverlayMode ROOTLESS = new OverlayMode(true, true, true, true);

  static List<String> links(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(String.format("L%019d", i).replace('0', 'A').replace('1', 'B').replace('9', 'Z'));
    }
    return out;
  }

  static String link(char c) {
    return String.valueOf(c).repeat(MountData.LINK_LENGTH);
  }

  @Test
  void readWriteMountListsTheParentsNearestFirstAboveItsOwnUpperDirectory() throws IOException {
    List<String> parents = List.of(link('A'), link('B'), link('C'));
    Mount m = MountData.mount(HOME, "c1", link('O'), parents, false, ROOT);
    assertEquals("overlay", m.type());
    assertEquals("overlay", m.source());
    assertNull(m.workingDirectory(), "a short chain takes the absolute form");
    assertEquals(
        List.of(
            "lowerdir="
                + H
                + "l/"
                + link('A')
                + ":"
                + H
                + "l/"
                + link('B')
                + ":"
                + H
                + "l/"
                + link('C'),
            "upperdir=" + H + "c1/diff",
            "workdir=" + H + "c1/work",
            "index=off",
            "redirect_dir=off",
            "metacopy=off"),
        m.options());
    assertFalse(m.isReadOnly());
  }

  @Test
  void readOnlyMountPutsTheLayersOwnDiffOnTopAndHasNoUpperDirectory() throws IOException {
    Mount m = MountData.mount(HOME, "img", link('O'), List.of(link('A')), true, ROOT);
    assertEquals(
        List.of(
            "lowerdir=" + H + "l/" + link('O') + ":" + H + "l/" + link('A'),
            "index=off",
            "redirect_dir=off",
            "metacopy=off",
            "ro"),
        m.options());
    assertTrue(m.isReadOnly());
  }

  @Test
  void aLayerWithoutParentsSitsOnTheSharedEmptyDirectory() throws IOException {
    Mount rw = MountData.mount(HOME, "base", link('O'), List.of(), false, ROOT);
    assertEquals("lowerdir=" + H + ".empty", rw.options().get(0));
    assertEquals("upperdir=" + H + "base/diff", rw.options().get(1));
    // Without an upper directory overlay needs two lowers.
    Mount ro = MountData.mount(HOME, "base", link('O'), List.of(), true, ROOT);
    assertEquals("lowerdir=" + H + "l/" + link('O') + ":" + H + ".empty", ro.options().get(0));
  }

  @Test
  void inAUserNamespaceTheMountUsesUserxattrAndLeavesRedirectAndMetacopyToTheKernel()
      throws IOException {
    Mount m = MountData.mount(HOME, "c", link('O'), List.of(link('A')), false, ROOTLESS);
    assertEquals(
        List.of(
            "lowerdir=" + H + "l/" + link('A'),
            "upperdir=" + H + "c/diff",
            "workdir=" + H + "c/work",
            "index=off",
            "userxattr"),
        m.options());
  }

  @Test
  void optionsFollowWhatTheModuleHas() {
    assertEquals(List.of(), new OverlayMode(false, false, false, false).options());
    assertEquals(List.of("userxattr"), new OverlayMode(true, false, true, true).options());
    assertEquals(
        List.of("index=off", "metacopy=off"), new OverlayMode(false, true, false, true).options());
  }

  @Test
  void metacopyIsTurnedOffOnlyWhereTheModuleTurnsItOn(@TempDir Path params) throws IOException {
    Files.writeString(params.resolve("index"), "N\n");
    Files.writeString(params.resolve("redirect_dir"), "N\n");
    assertEquals(
        List.of("index=off", "redirect_dir=off"), OverlayMode.detect(false, params).options());
    Files.writeString(params.resolve("metacopy"), "N\n");
    assertEquals(
        List.of("index=off", "redirect_dir=off"),
        OverlayMode.detect(false, params).options(),
        "metacopy=off where it is off anyway: BuildKit's overlay differ refuses the option");
    Files.writeString(params.resolve("metacopy"), "Y\n");
    assertEquals(
        List.of("index=off", "redirect_dir=off", "metacopy=off"),
        OverlayMode.detect(false, params).options());
    assertEquals(List.of("index=off", "userxattr"), OverlayMode.detect(true, params).options());
  }

  @Test
  void idsThatCouldClashWithTheDriversOwnNamesAreEscaped() throws IOException {
    Mount m = MountData.mount(HOME, "l", link('O'), List.of(link('A')), false, ROOT);
    assertTrue(m.options().contains("upperdir=" + H + "%l/diff"), m.options().toString());
    assertEquals("%.hidden", Layout.dirName(".hidden"));
    assertEquals(".hidden", Layout.idOfDirName("%.hidden"));
    assertEquals("plain", Layout.dirName("plain"));
    assertThrows(IllegalArgumentException.class, () -> Layout.dirName("a%b"));
  }

  /** 128 lowers cannot fit as absolute paths under a realistic home; the relative form does. */
  @Test
  void aChainOf128FitsAPageInTheRelativeFormFromTheHome() throws IOException {
    List<String> parents = links(128);
    Mount m = MountData.mount(HOME, DOCKER_ID + "-init", link('O'), parents, false, ROOT);
    assertEquals(HOME.toString(), m.workingDirectory(), "mounted from the home");
    int n = MountData.dataLength(m);
    assertTrue(n <= Mounter.MAX_DATA, n + " bytes");
    String lowerdir = m.options().get(0);
    assertTrue(lowerdir.startsWith("lowerdir=l/" + parents.get(0) + ":l/"), lowerdir);
    assertTrue(lowerdir.endsWith(":l/" + parents.get(127)), lowerdir);
    assertEquals(128, lowerdir.substring("lowerdir=".length()).split(":").length);
    assertEquals("upperdir=" + DOCKER_ID + "-init/diff", m.options().get(1));
    assertEquals("workdir=" + DOCKER_ID + "-init/work", m.options().get(2));
    // The arithmetic of MountData's comment: 77 + 2 × len(ID) + 23 × N.
    assertEquals(77 + 2 * 69 + 23 * 128, n);

    // Read-only, with the layer's own diff on top: 129 lowers.
    Mount ro = MountData.mount(HOME, DOCKER_ID, link('O'), parents, true, ROOT);
    assertNotNull(ro.workingDirectory());
    assertTrue(MountData.dataLength(ro) <= Mounter.MAX_DATA);
  }

  @Test
  void theAbsoluteFormIsUsedWhileItFits() throws IOException {
    // 79 + 2 × 24 + 2 × 69 + 48 × N ≤ 4095: N ≤ 79 under /var/lib/layerd/overlay2.
    String id = DOCKER_ID + "-init";
    Mount at79 = MountData.mount(HOME, id, link('O'), links(79), false, ROOT);
    assertNull(at79.workingDirectory());
    assertEquals(79 + 2 * 24 + 2 * 69 + 48 * 79, MountData.dataLength(at79));
    Mount at80 = MountData.mount(HOME, id, link('O'), links(80), false, ROOT);
    assertEquals(HOME.toString(), at80.workingDirectory());
  }

  @Test
  void aHomeOverlayWouldSplitIsAlwaysMountedFromTheHome() throws IOException {
    for (String home : List.of("/srv/a:b/overlay2", "/srv/a,b/overlay2", "/srv/a\\b/overlay2")) {
      Mount m = MountData.mount(Path.of(home), "c", link('O'), List.of(link('A')), false, ROOT);
      assertEquals(home, m.workingDirectory());
      assertEquals("lowerdir=l/" + link('A'), m.options().get(0));
      assertEquals("upperdir=c/diff", m.options().get(1));
    }
  }

  @Test
  void theDepthLimitIsWhatAPageHolds() {
    String docker = DOCKER_ID + "-init";
    assertNull(MountData.checkFits(docker, links(168), false, ROOT));
    String tooDeep = MountData.checkFits(docker, links(169), false, ROOT);
    assertNotNull(tooDeep);
    assertTrue(tooDeep.contains("170 layers deep") && tooDeep.contains("4095"), tooDeep);
    assertNull(MountData.checkFits(LONGEST_ID, links(157), false, ROOT));
    assertNotNull(MountData.checkFits(LONGEST_ID, links(158), false, ROOT));
    assertNull(MountData.checkFits(LONGEST_ID, links(128), true, ROOT), "read-only, 129 lowers");
    String kernel = MountData.checkFits("a", links(501), false, ROOT);
    assertTrue(kernel.contains("OVL_MAX_STACK"), kernel);
  }

  @Test
  void aMountThatCannotFitIsRefusedWithTheArithmetic() {
    IOException e =
        assertThrows(
            IOException.class,
            () -> MountData.mount(HOME, LONGEST_ID, link('O'), links(200), false, ROOT));
    assertTrue(e.getMessage().contains("over the 4095"), e.getMessage());
  }

  @Test
  void lowerFilesRoundTrip() throws IOException {
    List<String> l = List.of(link('A'), link('B'));
    String text = Layout.formatLower(l);
    assertEquals("l/" + link('A') + ":l/" + link('B'), text);
    assertEquals(l, Layout.parseLower(text, Path.of("lower")));
    assertThrows(IOException.class, () -> Layout.parseLower("l/short", Path.of("lower")));
    assertThrows(IOException.class, () -> Layout.parseLower("../x", Path.of("lower")));
    assertTrue(Layout.isLinkName(Layout.newLink()));
  }
}
