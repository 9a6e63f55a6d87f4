package io.layerd.unpack;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The threads that finish regular files for the applier: each job writes a file's contents (slices
 * of the pipeline's chunks) to a descriptor the applier opened, then sets its owner, mode, xattrs
 * and times on that descriptor, and closes it. Names are never made or removed here: the applier
 * does that in the archive's order, so every ordering rule holds whatever the writers' pace. Jobs
 * travel in batches (a wake-up per file would cost more than most files' writes), handed over when
 * full or when the applier is about to wait for input. The queue is bounded (and so are the
 * descriptors and chunks the jobs hold); the first failure is kept for the applier, with its entry,
 * and later jobs are dropped.
 */
final class Writers implements AutoCloseable {
  /** One file to finish. */
  interface Job {
    TarEntry entry();

    /** Does the work and releases what the job holds (its descriptor, its slices), always. */
    void run() throws IOException;

    /** Releases what the job holds without doing the work. */
    void abandon();
  }

  /** A job's failure: the entry and what was thrown. */
  record Failure(TarEntry entry, Throwable error) {}

  /** A batch of jobs, handed over at once. */
  private static final class Batch {
    final List<Job> jobs;

    Batch(List<Job> jobs) {
      this.jobs = jobs;
    }
  }

  private static final Batch STOP = new Batch(List.of());

  /** Jobs per batch at most, and bytes of contents per batch at most. */
  private static final int BATCH_JOBS = 64;

  private static final long BATCH_BYTES = 1 << 20;

  private final ArrayBlockingQueue<Batch> queue;
  private List<Job> batch = new ArrayList<>(BATCH_JOBS);
  private long batchBytes;
  private final Thread[] threads;
  private final AtomicReference<Failure> failure = new AtomicReference<>();
  private final Object lock = new Object();
  private long submitted;
  private long completed;
  private volatile boolean closing;

  /** {@code capacity}: jobs queued at most (each may hold a descriptor). */
  Writers(int threads, int capacity) {
    this.queue = new ArrayBlockingQueue<>(Math.max(1, capacity / BATCH_JOBS));
    this.threads = new Thread[threads];
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(this::loop, "layerd-write-" + i);
      t.setDaemon(true);
      this.threads[i] = t;
      t.start();
    }
  }

  /** The first failure of a job, or null. */
  Failure failure() {
    return failure.get();
  }

  /**
   * Adds a job ({@code bytes} of contents) to the batch, handing the batch over when full (waiting
   * while the queue is full); dropped when a job already failed. One thread submits.
   */
  void submit(Job job, long bytes) throws IOException {
    if (failure.get() != null || closing) {
      job.abandon();
      return;
    }
    batch.add(job);
    batchBytes += bytes;
    if (batch.size() >= BATCH_JOBS || batchBytes >= BATCH_BYTES) {
      flush();
    }
  }

  /** Hands over the jobs batched so far (before the submitting thread waits for anything). */
  void flush() throws IOException {
    if (batch.isEmpty()) {
      return;
    }
    List<Job> b = batch;
    batch = new ArrayList<>(BATCH_JOBS);
    batchBytes = 0;
    synchronized (lock) {
      submitted += b.size();
    }
    try {
      queue.put(new Batch(b));
    } catch (InterruptedException e) {
      for (Job j : b) {
        j.abandon();
        done();
      }
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while queueing files");
    }
  }

  /** Waits until every job submitted ran (or was dropped). */
  void awaitIdle() throws IOException {
    flush();
    synchronized (lock) {
      while (completed < submitted) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while files were being written");
        }
      }
    }
  }

  private void done() {
    synchronized (lock) {
      completed++;
      lock.notifyAll();
    }
  }

  private void loop() {
    while (true) {
      Batch jobs;
      try {
        jobs = queue.take();
      } catch (InterruptedException e) {
        return;
      }
      if (jobs == STOP) {
        LayerPipeline.trace("writer done");
        return;
      }
      for (Job job : jobs.jobs) {
        try {
          if (failure.get() != null || closing) {
            job.abandon();
          } else {
            job.run();
          }
        } catch (Throwable t) { // recorded for the applier, with the entry; the thread goes on
          failure.compareAndSet(null, new Failure(job.entry(), t));
          job.abandon();
        } finally {
          done();
        }
      }
    }
  }

  /**
   * Drops the jobs not started, lets the running ones end, and stops the threads: after this no
   * writer touches the target.
   */
  @Override
  public void close() {
    closing = true;
    for (Job j : batch) {
      j.abandon();
    }
    batch.clear();
    boolean interrupted = false;
    for (int i = 0; i < threads.length; i++) {
      while (true) {
        try {
          queue.put(STOP);
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    for (Thread t : threads) {
      while (true) {
        try {
          t.join();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    Batch left;
    while ((left = queue.poll()) != null) {
      for (Job j : left.jobs) {
        j.abandon();
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
