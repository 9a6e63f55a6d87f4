package io.layerd.testkit;

import java.io.Serializable;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * A {@link ChildJvm} scenario, named by a method reference the compiler checks: {@code
 * ChildJvm.call(user, mode, MyTest::chown, "250000")} runs {@code static void chown(String[] args)}
 * of MyTest in the child. {@link NoArgs} takes {@code static void name()} methods. Only references
 * to static methods are accepted (a lambda's body or a captured value cannot cross into another
 * JVM).
 */
@FunctionalInterface
public interface Scenario extends Serializable {
  /** The scenario's body, as the child runs it. */
  void run(String[] args) throws Exception;

  /** A scenario that takes no arguments. */
  @FunctionalInterface
  interface NoArgs extends Serializable {
    void run() throws Exception;
  }

  /** The class and static method a scenario's method reference names. */
  record Target(String className, String methodName) {
    /** The target of a method reference ({@link Scenario} or {@link NoArgs}). */
    static Target of(Serializable reference) {
      SerializedLambda l;
      try {
        Method replace = reference.getClass().getDeclaredMethod("writeReplace");
        replace.setAccessible(true);
        l = (SerializedLambda) replace.invoke(reference);
      } catch (NoSuchMethodException | IllegalAccessException | InvocationTargetException e) {
        throw new IllegalArgumentException(
            "a scenario must be a method reference (MyTest::method), not " + reference, e);
      }
      if (l.getImplMethodKind() != java.lang.invoke.MethodHandleInfo.REF_invokeStatic
          || l.getCapturedArgCount() != 0
          || l.getImplMethodName().startsWith("lambda$")) {
        throw new IllegalArgumentException(
            "a scenario must be a reference to a static method (MyTest::method), not "
                + l.getImplClass()
                + "."
                + l.getImplMethodName());
      }
      return new Target(l.getImplClass().replace('/', '.'), l.getImplMethodName());
    }
  }
}
