/**
 * Id mappings for rootless operation. The API is {@code io.layerd.idmap} (see its package-info).
 *
 * <p>{@code io.layerd.idmap.internal} (entering the rootless namespace, the doctor checks, the
 * effective mapping the CLI reports) is not exported: only layerd's own daemon and CLI use it, and
 * they run from the class path (their shaded jars), where no module can name them in a qualified
 * export; the architecture module's {@code ModuleRulesTest} holds them to it instead.
 */
module io.layerd.idmap {
  requires io.layerd.sys;
  requires java.management;

  exports io.layerd.idmap;
}
