/**
 * The layer applier and image unpacking. Its API is two packages: {@code io.layerd.unpack}
 * (applying one layer into a directory) and {@code io.layerd.unpack.image} (unpacking or reading
 * whole images); see their package-info. Nothing else is exported.
 *
 * <p>The id mapping types appear in the API (an applier's owners come from an {@link
 * io.layerd.idmap.IdRemapper}, an unmapped owner fails with {@link
 * io.layerd.idmap.UnmappedIdException}), so idmap is required transitively.
 */
module io.layerd.unpack {
  requires transitive io.layerd.idmap;
  requires io.layerd.sys;
  requires org.apache.commons.compress;
  requires com.github.luben.zstd_jni;
  requires org.tukaani.xz;
  requires com.fasterxml.jackson.databind;
  requires java.management;

  exports io.layerd.unpack;
  exports io.layerd.unpack.image;
}
