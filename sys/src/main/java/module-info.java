/**
 * layerd's one native boundary: every system call of every module goes through {@code
 * io.layerd.sys}, bound with JNA direct mapping. The JNA bindings themselves ({@code LibC}, {@code
 * Isal}, {@code Crypto}) are package-private; nothing of JNA appears in the exported signatures.
 */
@SuppressWarnings("requires-automatic") // JNA names itself: Automatic-Module-Name com.sun.jna
module io.layerd.sys {
  requires com.sun.jna;

  exports io.layerd.sys;
}
