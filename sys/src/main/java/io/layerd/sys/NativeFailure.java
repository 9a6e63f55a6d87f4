package io.layerd.sys;

/**
 * What every exception thrown by {@link Sys} carries besides its java.nio.file type: the call that
 * failed and the errno it returned. Test with {@code instanceof NativeFailure}.
 */
public interface NativeFailure {
  /** The call that failed, e.g. {@code "fchownat"}. */
  String call();

  /** The raw errno number. */
  int errnoNumber();

  /** The errno by name, or null when {@link Errno} does not name the number. */
  default Errno errno() {
    return Errno.of(errnoNumber());
  }

  /** True when this failure carries the given errno. */
  default boolean is(Errno e) {
    return errnoNumber() == e.number();
  }

  /** The errno of a throwable when it is a {@link NativeFailure}, else null. */
  static Errno errnoOf(Throwable t) {
    return t instanceof NativeFailure ? ((NativeFailure) t).errno() : null;
  }
}
