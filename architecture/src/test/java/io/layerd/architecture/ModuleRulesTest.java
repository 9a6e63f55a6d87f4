package io.layerd.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noMethods;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Arrays;

/**
 * ARCHITECTURE.md's rules between modules, checked on the main classes of every module (this module
 * depends on all of them, in test scope only). A module is known here by its packages:
 *
 * <pre>
 *   sys           io.layerd.sys
 *   idmap         io.layerd.idmap (API), io.layerd.idmap.internal
 *   unpack        io.layerd.unpack, io.layerd.unpack.image (both API), io.layerd.unpack.internal
 *   engine        io.layerd.engine (API), its SPI io.layerd.engine.spi (API for drivers),
 *                 io.layerd.engine.internal
 *   drivers       io.layerd.driver.*
 *   daemon        io.layerd.daemon, io.layerd.daemon.containerd
 *   layerctl      io.layerd.cli
 *   testkit       io.layerd.testkit, io.layerd.testkit.conformance
 *   benchmarks    io.layerd.bench
 * </pre>
 *
 * <p>The layers allow exactly the edges of ARCHITECTURE.md's graph. Code outside a library module
 * uses only its API packages (those its module-info exports), with the few exceptions named in the
 * rules below, each with its reason. Rules are checked from methods: Surefire 3.5.3 does not run
 * {@code @ArchTest} fields (TNG/ArchUnit#1442).
 */
@AnalyzeClasses(packages = "io.layerd", importOptions = ImportOption.DoNotIncludeTests.class)
class ModuleRulesTest {

  private static final String SYS = "io.layerd.sys..";

  /**
   * The one exception to rule 1 outside sys: benchmarks' NativeCallBench bindings, which measure
   * the cost of a call through JNA, jnr-ffi and java.lang.foreign (never deployed).
   */
  private static final String BENCH_FFI = "io.layerd.bench.ffi..";

  /** Rule 1: only sys calls native code (JNA, jnr, the JDK's foreign-function API, JNI). */
  private static final ArchRule ONLY_SYS_BINDS_NATIVE_LIBRARIES =
      noClasses()
          .that()
          .resideOutsideOfPackages(SYS, BENCH_FFI)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("com.sun.jna..", "jnr..", "com.kenai.jffi..", "java.lang.foreign..")
          .because("rule 1: only sys makes native calls");

  @ArchTest
  void onlySysBindsNativeLibraries(JavaClasses classes) {
    ONLY_SYS_BINDS_NATIVE_LIBRARIES.check(classes);
  }

  /** Rule 1: no JNI of our own outside sys either. */
  private static final ArchRule NO_NATIVE_METHODS_OUTSIDE_SYS =
      noMethods()
          .that()
          .areDeclaredInClassesThat()
          .resideOutsideOfPackages(SYS, BENCH_FFI)
          .should()
          .haveModifier(JavaModifier.NATIVE)
          .because("rule 1: only sys makes native calls");

  @ArchTest
  void noNativeMethodsOutsideSys(JavaClasses classes) {
    NO_NATIVE_METHODS_OUTSIDE_SYS.check(classes);
  }

  /** Rule 1: nor a library loaded by hand. */
  private static final ArchRule NO_LIBRARY_LOADING_OUTSIDE_SYS =
      noClasses()
          .that()
          .resideOutsideOfPackage(SYS)
          .should()
          .callMethod(System.class, "loadLibrary", String.class)
          .orShould()
          .callMethod(System.class, "load", String.class)
          .orShould()
          .callMethod(Runtime.class, "loadLibrary", String.class)
          .orShould()
          .callMethod(Runtime.class, "load", String.class)
          .because("rule 1: only sys makes native calls");

  @ArchTest
  void noLibraryLoadingOutsideSys(JavaClasses classes) {
    NO_LIBRARY_LOADING_OUTSIDE_SYS.check(classes);
  }

  /**
   * The packages a library module does not export, each with the only packages outside the module
   * that may use it (the module's own packages first):
   *
   * <ul>
   *   <li>idmap's internals (the rootless re-exec, the doctor, the effective mapping) serve the
   *       daemon ({@code layerd rootless-*}, the re-exec at start) and layerctl ({@code doctor},
   *       {@code idmap}, {@code check-ids}, {@code unshare}, the re-exec);
   *   <li>unpack's ({@code Staging}, the tar reader and writer, the single-threaded {@code
   *       LayerStream}) serve {@code layerctl unpack}, which publishes its target with {@code
   *       Staging}, and the benchmarks (never deployed), which measure the reader and the writer;
   *   <li>the engine's serve layerctl's {@code driver} command, which checks a data-root with
   *       {@code DataRoot} before it selects a driver there.
   * </ul>
   */
  private static final String[][] INTERNAL_PACKAGES = {
    {"io.layerd.idmap.internal..", "io.layerd.idmap..", "io.layerd.daemon..", "io.layerd.cli.."},
    {"io.layerd.unpack.internal..", "io.layerd.unpack..", "io.layerd.cli..", "io.layerd.bench.."},
    {"io.layerd.engine.internal..", "io.layerd.engine..", "io.layerd.cli.."},
  };

  @ArchTest
  void internalPackagesOnlyWhereNamed(JavaClasses classes) {
    for (String[] row : INTERNAL_PACKAGES) {
      noClasses()
          .that()
          .resideOutsideOfPackages(Arrays.copyOfRange(row, 1, row.length))
          .should()
          .dependOnClassesThat()
          .resideInAPackage(row[0])
          .because("a library module's users see its API packages, which its module-info exports")
          .check(classes);
    }
  }

  /** Rule 2: drivers return mounts as data and know nothing of tar or images. */
  private static final ArchRule DRIVERS_KNOW_NOTHING_OF_TAR =
      noClasses()
          .that()
          .resideInAPackage("io.layerd.driver..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              "io.layerd.unpack..", "org.apache.commons.compress..", "com.github.luben.zstd..")
          .because("rule 2: drivers know nothing of tar or images");

  @ArchTest
  void driversKnowNothingOfTar(JavaClasses classes) {
    DRIVERS_KNOW_NOTHING_OF_TAR.check(classes);
  }

  /** Drivers see the engine only through its SPI. */
  private static final ArchRule DRIVERS_SEE_ONLY_THE_SPI =
      noClasses()
          .that()
          .resideInAPackage("io.layerd.driver..")
          .should()
          .dependOnClassesThat()
          .resideInAPackage("io.layerd.engine")
          .because("drivers are written against io.layerd.engine.spi alone");

  @ArchTest
  void driversSeeOnlyTheSpi(JavaClasses classes) {
    DRIVERS_SEE_ONLY_THE_SPI.check(classes);
  }

  /** The SPI is what the engine implements against, never the other way round. */
  private static final ArchRule SPI_STANDS_ALONE =
      noClasses()
          .that()
          .resideInAPackage("io.layerd.engine.spi..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("io.layerd.engine", "io.layerd.unpack..", "io.layerd.idmap..")
          .because("the SPI depends on nothing of the engine's implementation");

  @ArchTest
  void spiStandsAlone(JavaClasses classes) {
    SPI_STANDS_ALONE.check(classes);
  }

  /** Drivers are separate plugins: none knows another. */
  private static final ArchRule DRIVERS_ARE_INDEPENDENT =
      slices()
          .matching("io.layerd.driver.(*)..")
          .should()
          .notDependOnEachOther()
          .because("each driver is a plugin of its own, found through ServiceLoader");

  @ArchTest
  void driversAreIndependent(JavaClasses classes) {
    DRIVERS_ARE_INDEPENDENT.check(classes);
  }

  /**
   * Rule 5: dependencies point downwards in ARCHITECTURE.md's graph, never up or sideways; testkit
   * is for tests only.
   */
  private static final ArchRule DEPENDENCIES_POINT_DOWNWARDS =
      layeredArchitecture()
          .consideringOnlyDependenciesInLayers()
          .layer("sys")
          .definedBy(SYS)
          .layer("idmap")
          .definedBy("io.layerd.idmap..")
          .layer("unpack")
          .definedBy("io.layerd.unpack..")
          .layer("engine.spi")
          .definedBy("io.layerd.engine.spi..")
          .layer("engine")
          .definedBy("io.layerd.engine")
          .layer("drivers")
          .definedBy("io.layerd.driver..")
          .layer("daemon")
          .definedBy("io.layerd.daemon..")
          .layer("layerctl")
          .definedBy("io.layerd.cli..")
          .layer("testkit")
          .definedBy("io.layerd.testkit..")
          .layer("benchmarks")
          .definedBy("io.layerd.bench..")
          .whereLayer("benchmarks")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("layerctl")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("daemon")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("testkit")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("drivers")
          .mayNotBeAccessedByAnyLayer()
          .whereLayer("engine")
          .mayOnlyBeAccessedByLayers("daemon", "layerctl", "benchmarks")
          .whereLayer("engine.spi")
          .mayOnlyBeAccessedByLayers("engine", "drivers", "daemon", "layerctl", "benchmarks")
          .whereLayer("unpack")
          .mayOnlyBeAccessedByLayers("engine", "daemon", "layerctl", "benchmarks")
          .whereLayer("idmap")
          .mayOnlyBeAccessedByLayers("unpack", "daemon", "layerctl")
          .whereLayer("sys")
          .mayOnlyBeAccessedByLayers(
              "idmap",
              "unpack",
              "engine.spi",
              "engine",
              "drivers",
              "daemon",
              "layerctl",
              "testkit",
              "benchmarks");

  @ArchTest
  void dependenciesPointDownwards(JavaClasses classes) {
    DEPENDENCIES_POINT_DOWNWARDS.check(classes);
  }
}
