package io.layerd.testkit.conformance;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A layer store as {@link LayerStoreConformance} drives it: Docker's graph-driver model over one
 * data-root, in plain Java types (testkit cannot depend on the engine; the engine's test sources
 * adapt it, one driver at a time).
 *
 * <p>Vocabulary: a layer is named by an id and has at most one parent ({@code null} for a base
 * layer). A read-only layer ({@link #create}) is filled once by {@link #applyDiff}; a read-write
 * layer ({@link #createReadWrite}) is a container's, written through the directory {@link #get}
 * returns, and may itself be the parent of another layer. Every {@link #get} is matched by a {@link
 * #put}.
 */
public interface LayerStoreUnderTest extends Closeable {
  /**
   * What the driver declares it can do, by name ({@code "ROOTLESS"}, {@code "XATTRS"}, {@code
   * "DEVICES"}, {@code "NEEDS_MOUNT"}, ...). The suite decides which checks apply from these, never
   * from the driver's name.
   */
  Set<String> capabilities();

  /** The data-root the store was opened on. */
  Path dataRoot();

  /** Create: a read-only layer for {@link #applyDiff}. Fails when the id exists. */
  void create(String id, String parent) throws IOException;

  /** CreateReadWrite: a container's writable layer. */
  void createReadWrite(String id, String parent) throws IOException;

  /** Whether the layer exists. */
  boolean exists(String id) throws IOException;

  /** Remove: refused while the layer has children; removing a missing layer is no error. */
  void remove(String id) throws IOException;

  /** Get: the directory that shows the layer's whole filesystem; counted. */
  Path get(String id) throws IOException;

  /** Put: releases one {@link #get}; fails when there is none to release. */
  void put(String id) throws IOException;

  /** How many gets of the layer are outstanding. */
  int references(String id);

  /**
   * ApplyDiff: applies an (uncompressed) layer tar with OCI whiteouts to a layer made by {@link
   * #create}; returns the size Docker would report. A failed apply leaves no layer.
   */
  long applyDiff(String id, String parent, InputStream tar) throws IOException;

  /** Diff: writes the layer's changes against {@code parent} (its own when null) as a layer tar. */
  void diff(String id, String parent, OutputStream out) throws IOException;

  /** Changes: what the layer changes against {@code parent} (its own when null), sorted. */
  List<LayerChange> changes(String id, String parent) throws IOException;

  /** DiffSize: bytes of file content the layer adds or modifies against {@code parent}. */
  long diffSize(String id, String parent) throws IOException;

  /**
   * Runs {@link #applyDiff} over a stream that fails with {@link SimulatedCrash} after {@code
   * afterBytes} bytes (see {@link CrashingInputStream}), then leaves the store as a killed process
   * would: its lock released, nothing cleaned up. Only {@link #reopen} or {@link #close} may
   * follow.
   */
  void crashDuringApply(String id, String parent, InputStream tar, long afterBytes)
      throws IOException;

  /** Closes the store (unless crashed) and opens the same data-root again, as a new process. */
  void reopen() throws IOException;
}
