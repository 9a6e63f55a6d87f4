package io.layerd.engine;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.layerd.engine.spi.LayerIds;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The engine's record of layers in a data-root: one JSON file per layer under {@code layers/},
 * written to {@code staging/} and published by rename so that a crash never leaves a torn record; a
 * lock so that one process uses a data-root at a time.
 */
public final class LayerStore implements Closeable {
  private static final ObjectMapper JSON =
      new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private final Path root;
  private final Path layers;
  private final Path staging;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final Map<String, LayerMeta> metas = new ConcurrentHashMap<>();

  private LayerStore(Path root, FileChannel lockChannel, FileLock lock) {
    this.root = root;
    this.layers = root.resolve("layers");
    this.staging = root.resolve("staging");
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /** Locks the data-root and reads its layer records. */
  public static LayerStore open(Path root) throws IOException {
    Path lockFile = root.resolve("layerd.lock");
    FileChannel ch =
        FileChannel.open(
            lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      String holder = readHolder(ch);
      ch.close();
      throw new DataRootException(
          "data-root "
              + root
              + " is in use by another layerd process ("
              + holder
              + "): one process serves a data-root at a time; stop that process or choose"
              + " another --data-root");
    }
    String me =
        ProcessHandle.current().pid()
            + " "
            + ProcessHandle.current().info().command().orElse("java");
    ch.truncate(0);
    ch.write(ByteBuffer.wrap((me + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    LayerStore s = new LayerStore(root, ch, lock);
    Files.createDirectories(s.layers);
    Files.createDirectories(s.staging);
    s.load();
    return s;
  }

  private static String readHolder(FileChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4096);
    ch.read(b, 0);
    String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
    return s.isEmpty() ? "holder unknown" : "pid " + s;
  }

  private void load() throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(layers, "*.json")) {
      for (Path p : ds) {
        LayerMeta m = JSON.readValue(p.toFile(), LayerMeta.class);
        metas.put(m.id(), m);
      }
    }
  }

  public Path root() {
    return root;
  }

  /** Where half-made things live; emptied at start-up. */
  public Path staging() {
    return staging;
  }

  public Optional<LayerMeta> get(String id) {
    return Optional.ofNullable(metas.get(id));
  }

  public List<LayerMeta> all() {
    return new ArrayList<>(metas.values());
  }

  /** The layers whose parent is {@code id}. */
  public List<String> children(String id) {
    List<String> out = new ArrayList<>();
    for (LayerMeta m : metas.values()) {
      if (id.equals(m.parent())) {
        out.add(m.id());
      }
    }
    return out;
  }

  /** Records a layer (new or changed), atomically. */
  public void put(LayerMeta m) throws IOException {
    LayerIds.check(m.id());
    Path tmp = Files.createTempFile(staging, m.id() + ".", ".json");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(JSON.writeValueAsBytes(m)));
        ch.force(true);
      }
      try {
        Files.move(tmp, layers.resolve(m.id() + ".json"), StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the data-root cannot rename atomically: " + e.getMessage(), e);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    metas.put(m.id(), m);
  }

  public void delete(String id) throws IOException {
    Files.deleteIfExists(layers.resolve(LayerIds.check(id) + ".json"));
    metas.remove(id);
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      lockChannel.close();
    }
  }
}
