package io.layerd.testkit.conformance;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.layerd.testkit.Tiers;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs a JUnit test class through the JUnit Platform launcher, for a {@link
 * io.layerd.testkit.ChildJvm} scenario: {@code ChildJvm.call(user, mode, ConformanceLauncher::run,
 * "com.example.SomeConformanceTest")}. Tests tagged {@value Tiers#USERNS} are left out (they are
 * the ones that start such children). Prints a one-line count and any failures to standard output,
 * and throws an AssertionError when a test failed or none ran.
 */
public final class ConformanceLauncher {
  private ConformanceLauncher() {}

  /** The first line the launcher prints: {@code CONFORMANCE class: found=.. succeeded=.. ...}. */
  public static final String SUMMARY_PREFIX = "CONFORMANCE ";

  /** {@code args[0]}: the test class to run. */
  public static void run(String[] args) throws ClassNotFoundException {
    if (args.length != 1) {
      throw new IllegalArgumentException("usage: ConformanceLauncher TEST-CLASS");
    }
    Class<?> cls = Class.forName(args[0], true, ConformanceLauncher.class.getClassLoader());
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request()
            .selectors(selectClass(cls))
            .filters(TagFilter.excludeTags(Tiers.USERNS))
            .build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    launcher.execute(request, listener);
    TestExecutionSummary s = listener.getSummary();
    String line =
        String.format(
            "%s%s: found=%d succeeded=%d skipped=%d aborted=%d failed=%d (uid %d in its namespace)",
            SUMMARY_PREFIX,
            cls.getSimpleName(),
            s.getTestsFoundCount(),
            s.getTestsSucceededCount(),
            s.getTestsSkippedCount(),
            s.getTestsAbortedCount(),
            s.getTotalFailureCount(),
            io.layerd.sys.Sys.geteuid());
    System.out.println(line);
    StringWriter failures = new StringWriter();
    s.printFailuresTo(new PrintWriter(failures), 40);
    if (!failures.toString().isBlank()) {
      System.out.println(failures);
    }
    System.out.flush();
    if (s.getTotalFailureCount() > 0) {
      throw new AssertionError(line + "\n" + failures);
    }
    if (s.getTestsFoundCount() == 0) {
      throw new AssertionError(line + ": no test ran");
    }
  }
}
