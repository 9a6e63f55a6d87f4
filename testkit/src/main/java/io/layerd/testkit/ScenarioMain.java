package io.layerd.testkit;

import io.layerd.sys.Sys;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;

/**
 * The main class of every {@link ChildJvm}: {@code ScenarioMain CLASS METHOD ARGS...} calls {@code
 * static void METHOD(String[] args)} of CLASS (or a static method without parameters) and exits
 * with {@value #EXIT_OK} when it returns, {@value #EXIT_FAILED} when it throws anything (assertion
 * errors included; the throwable and its stack trace go to stderr), or {@value #EXIT_ABORTED} when
 * it throws JUnit's {@code TestAbortedException} (a {@link Require} probe that skipped): then the
 * first stderr line is {@value #ABORTED_PREFIX} followed by the reason. Bad arguments (no such
 * class or method) exit with {@value #EXIT_USAGE}.
 */
public final class ScenarioMain {
  private ScenarioMain() {}

  /** The scenario returned normally. */
  public static final int EXIT_OK = 0;

  /** The scenario threw. */
  public static final int EXIT_FAILED = 1;

  /** The scenario aborted (skipped) through a JUnit assumption. */
  public static final int EXIT_ABORTED = 2;

  /** The class or method could not be found or called. */
  public static final int EXIT_USAGE = 3;

  /** What starts stderr when the scenario aborted. */
  public static final String ABORTED_PREFIX = "ABORTED: ";

  private static final String ABORT_TYPE = "org.opentest4j.TestAbortedException";

  /** Runs the scenario and exits the JVM; see the class comment. */
  public static void main(String[] args) {
    int code = run(args);
    System.out.flush();
    System.err.flush();
    System.exit(code);
  }

  /** Runs the scenario without exiting; returns the exit code that {@link #main} would use. */
  static int run(String[] args) {
    if (args.length < 2) {
      System.err.println("usage: ScenarioMain CLASS METHOD [ARGS...]");
      return EXIT_USAGE;
    }
    String where = args[0] + "." + args[1];
    Method m;
    Object[] params;
    try {
      Class<?> cls = Class.forName(args[0], true, ScenarioMain.class.getClassLoader());
      String[] rest = Arrays.copyOfRange(args, 2, args.length);
      m = find(cls, args[1], String[].class);
      if (m != null) {
        params = new Object[] {rest};
      } else {
        m = find(cls, args[1]);
        if (m == null) {
          System.err.println(
              "no static method " + args[1] + "(String[]) or " + args[1] + "() in " + args[0]);
          return EXIT_USAGE;
        }
        if (rest.length > 0) {
          System.err.println(where + "() takes no arguments, got " + Arrays.toString(rest));
          return EXIT_USAGE;
        }
        params = new Object[0];
      }
      m.setAccessible(true);
    } catch (ClassNotFoundException | RuntimeException | LinkageError e) {
      System.err.println("cannot load " + where + ": " + e);
      e.printStackTrace(System.err);
      return EXIT_USAGE;
    }
    try {
      m.invoke(null, params);
      return EXIT_OK;
    } catch (InvocationTargetException e) {
      return report(where, e.getCause());
    } catch (IllegalAccessException | RuntimeException e) {
      System.err.println("cannot call " + where + ": " + e);
      e.printStackTrace(System.err);
      return EXIT_USAGE;
    }
  }

  private static int report(String where, Throwable t) {
    if (isAbort(t)) {
      System.err.println(ABORTED_PREFIX + t.getMessage());
      return EXIT_ABORTED;
    }
    String uid;
    try {
      uid = Long.toString(Sys.getuid());
    } catch (LinkageError | RuntimeException e) {
      uid = "unknown: " + e; // the native library itself may be what failed
    }
    System.err.println(
        "scenario "
            + where
            + " failed (uid "
            + uid
            + ", pid "
            + ProcessHandle.current().pid()
            + "):");
    t.printStackTrace(System.err);
    return EXIT_FAILED;
  }

  private static boolean isAbort(Throwable t) {
    for (Class<?> c = t.getClass(); c != null; c = c.getSuperclass()) {
      if (c.getName().equals(ABORT_TYPE)) {
        return true;
      }
    }
    return false;
  }

  private static Method find(Class<?> cls, String name, Class<?>... params) {
    try {
      Method m = cls.getDeclaredMethod(name, params);
      return Modifier.isStatic(m.getModifiers()) ? m : null;
    } catch (NoSuchMethodException e) {
      return null;
    }
  }
}
