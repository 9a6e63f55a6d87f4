package io.layerd.unpack.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * The members of an uncompressed image tar, indexed once (headers only: commons-compress's {@link
 * TarFile} reads each header and seeks over the data) and then read in place: a blob is a bounded
 * window of the archive file, streamed straight to its reader. A member that is a symlink or a
 * hardlink to another member (newer docker-save writes {@code ID/layer.tar} as a symlink into
 * {@code blobs/}) is followed inside the archive, never out of it.
 */
final class TarBlobs implements BlobStore {
  private static final int MAX_LINKS = 16;

  private final Path file;
  private final TarFile tar;
  private final Map<String, TarArchiveEntry> members = new HashMap<>();

  private TarBlobs(Path file, TarFile tar) {
    this.file = file;
    this.tar = tar;
    for (TarArchiveEntry e : tar.getEntries()) {
      List<String> comps = ImagePaths.components(e.getName());
      if (comps == null || comps.isEmpty() || e.isDirectory()) {
        continue; // a name that leaves the archive can never be asked for
      }
      members.put(String.join("/", comps), e); // the last one wins, as when tar extracts
    }
  }

  static TarBlobs open(Path file) throws IOException {
    TarFile t;
    try {
      t = new TarFile(file);
    } catch (IOException | RuntimeException e) {
      throw new ImageException(file + " is not a readable tar archive: " + e.getMessage(), e);
    }
    return new TarBlobs(file, t);
  }

  @Override
  public Blob find(String name) throws IOException {
    TarArchiveEntry e = resolve(name);
    return e == null ? null : new Blob(name, e.getSize());
  }

  @Override
  public InputStream open(Blob blob) throws IOException {
    TarArchiveEntry e = resolve(blob.name());
    if (e == null) {
      throw new ImageException(file + " has no member " + blob.name());
    }
    return tar.getInputStream(e);
  }

  /** The regular member a clean name leads to through links, or null. */
  private TarArchiveEntry resolve(String name) throws ImageException {
    String current = name;
    for (int hops = 0; hops <= MAX_LINKS; hops++) {
      TarArchiveEntry e = members.get(current);
      if (e == null) {
        return null;
      }
      if (e.isSymbolicLink()) {
        current = symlinkTarget(current, e.getLinkName());
      } else if (e.isLink()) {
        current = ImagePaths.clean(e.getLinkName(), "the hardlink target of member " + current);
      } else if (e.isFile()) {
        return e;
      } else {
        throw new ImageException(
            file + ": member " + current + " is not a regular file (tar type " + typeOf(e) + ")");
      }
    }
    throw new ImageException(file + ": member " + name + " leads through too many links");
  }

  private String symlinkTarget(String member, String target) throws ImageException {
    if (target.startsWith("/")) {
      throw new ImageException(
          file + ": member " + member + " is a symlink to the absolute path '" + target + "'");
    }
    List<String> out = new ArrayList<>(List.of(member.split("/")));
    out.remove(out.size() - 1);
    for (String c : target.split("/", -1)) {
      if (c.isEmpty() || c.equals(".")) {
        continue;
      }
      if (c.equals("..")) {
        if (out.isEmpty()) {
          throw new ImageException(
              file
                  + ": member "
                  + member
                  + " is a symlink to '"
                  + ImagePaths.printable(target)
                  + "', outside the archive");
        }
        out.remove(out.size() - 1);
        continue;
      }
      out.add(c);
    }
    return String.join("/", out);
  }

  private static String typeOf(TarArchiveEntry e) {
    return e.isCharacterDevice()
        ? "character device"
        : e.isBlockDevice() ? "block device" : e.isFIFO() ? "fifo" : "other";
  }

  @Override
  public String toString() {
    return file.toString();
  }

  @Override
  public void close() throws IOException {
    tar.close();
  }
}
