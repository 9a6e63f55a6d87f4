package io.layerd.unpack;

import io.layerd.unpack.internal.TarReader;
import java.io.IOException;
import java.util.List;

/**
 * Applies a layer's entries one by one, in archive order: cleans each name, lets the {@link
 * WriterGate} decide whether the writers must be waited for, and hands the entry to {@link
 * Whiteouts} or to {@link EntryMaker} by its type. The parts share one {@link ApplyState}.
 */
final class EntryDispatcher {
  private final ApplyState state;
  private final EntryAttributes attributes;
  private final WriterGate gate;
  private final Whiteouts whiteouts;
  private final EntryMaker maker;

  EntryDispatcher(ApplyState state) {
    this.state = state;
    this.attributes = new EntryAttributes(state);
    this.gate = new WriterGate(state);
    this.whiteouts = new Whiteouts(state, attributes);
    this.maker = new EntryMaker(state, attributes, gate);
  }

  /** A directory the tree made because an entry's parent was missing. */
  void implied(int parentFd, byte[] name, boolean overWhiteout) throws IOException {
    attributes.implied(parentFd, name, overWhiteout);
  }

  /** Before the tree makes missing directories: no writer may be creating a name there. */
  void beforeCreating() throws IOException {
    gate.beforeCreating();
  }

  void apply(TarEntry e, TarReader reader) throws IOException {
    List<byte[]> comps = LayerApplier.clean(e.name());
    if (comps.isEmpty()) {
      if (e.type() == TarEntry.Type.DIRECTORY) {
        maker.root(e);
      } else if (e.name().length > 0) {
        state.warn("ignored " + e.type() + " entry '" + e.displayName() + "' naming the root");
      }
      return;
    }
    byte[] leaf = comps.get(comps.size() - 1);
    int n = comps.size() - 1;
    boolean isWhiteout = whiteouts.isWhiteout(leaf);
    gate.enter(e, comps, n, isWhiteout);
    if (isWhiteout) {
      whiteouts.whiteout(e, comps, leaf);
      return;
    }
    switch (e.type()) {
      case DIRECTORY:
        maker.directory(e, comps, leaf, n);
        break;
      case FILE:
        maker.file(e, comps, leaf, n, reader);
        break;
      case SYMLINK:
        maker.symlink(e, comps, leaf, n);
        break;
      case HARDLINK:
        maker.hardlink(e, comps, leaf, n);
        break;
      case CHAR_DEVICE:
      case BLOCK_DEVICE:
      case FIFO:
        maker.node(e, comps, leaf, n);
        break;
      case UNKNOWN:
      default:
        state.warn("skipped '" + e.displayName() + "': an entry type layerd does not apply");
        break;
    }
  }

  /**
   * After the last entry: waits for the writers (when there are any), then gives directories their
   * times.
   */
  void finish() throws IOException {
    if (state.writers != null) {
      gate.drain();
    }
    LayerPipeline.trace("writers idle");
    attributes.finishDirectoryTimes();
    LayerPipeline.trace("directory times set");
  }

  /**
   * When the applying thread failed after a writer did (e.g. a queue given up), throws the writer's
   * failure: the one to report.
   */
  void rethrowWriterFailure() throws IOException {
    gate.rethrowWriterFailure();
  }

  /** Lets go of the directory shared with the writers (their jobs hold their own references). */
  void releaseDirRef() {
    gate.releaseDirRef();
  }
}
