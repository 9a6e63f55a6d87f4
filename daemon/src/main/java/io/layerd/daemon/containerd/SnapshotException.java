package io.layerd.daemon.containerd;

import io.grpc.Status;

/** A refusal of the snapshotter API, with the gRPC status containerd maps to its errdefs. */
final class SnapshotException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient Status.Code code;

  SnapshotException(Status.Code code, String message) {
    super(message);
    this.code = code;
  }

  Status.Code code() {
    return code;
  }

  static SnapshotException notFound(String what) {
    return new SnapshotException(Status.Code.NOT_FOUND, what + ": not found");
  }

  static SnapshotException exists(String what) {
    return new SnapshotException(Status.Code.ALREADY_EXISTS, what + ": already exists");
  }

  static SnapshotException precondition(String message) {
    return new SnapshotException(Status.Code.FAILED_PRECONDITION, message);
  }

  static SnapshotException invalid(String message) {
    return new SnapshotException(Status.Code.INVALID_ARGUMENT, message);
  }
}
