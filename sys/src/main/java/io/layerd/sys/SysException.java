package io.layerd.sys;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * A failed native call whose errno has no closer java.nio.file type. Every failure leaves {@link
 * Sys} through {@link #of}, which picks the java.nio.file type once (ENOENT gives a {@link
 * NoSuchFileException}, EEXIST a {@link FileAlreadyExistsException}, EACCES and EPERM an {@link
 * AccessDeniedException}, ENOTEMPTY a {@link DirectoryNotEmptyException}, ENOTDIR a {@link
 * NotDirectoryException}); each of them implements {@link NativeFailure}.
 */
public final class SysException extends FileSystemException implements NativeFailure {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int errno;

  SysException(String call, int errno, String file, String other) {
    super(file, other, reason(call, errno));
    this.call = call;
    this.errno = errno;
  }

  @Override
  public String call() {
    return call;
  }

  @Override
  public int errnoNumber() {
    return errno;
  }

  static String reason(String call, int errno) {
    return call + ": " + Errno.describe(errno);
  }

  /**
   * The message: the path(s) made {@link Names#brief} (a 60,000-byte path stays one readable line;
   * {@code getFile()} keeps the whole path), then the call and errno.
   */
  static String message(String file, String other, String call, int errno) {
    if (file == null && other == null) {
      return reason(call, errno);
    }
    return (file == null ? "" : Names.brief(file))
        + (other == null ? "" : " -> " + Names.brief(other))
        + ": "
        + reason(call, errno);
  }

  @Override
  public String getMessage() {
    return message(getFile(), getOtherFile(), call, errno);
  }

  /** The exception for a failed call: the closest java.nio.file type, carrying call and errno. */
  public static IOException of(String call, int errno, String file, String other) {
    Errno e = Errno.of(errno);
    if (e != null) {
      switch (e) {
        case ENOENT:
          return new NoSuchFile(call, errno, file, other);
        case EEXIST:
          return new AlreadyExists(call, errno, file, other);
        case EACCES:
        case EPERM:
          return new AccessDenied(call, errno, file, other);
        case ENOTEMPTY:
          return new NotEmpty(call, errno, file, other);
        case ENOTDIR:
          return new NotDirectory(call, errno, file, other);
        default:
          break;
      }
    }
    return new SysException(call, errno, file, other);
  }

  static final class NoSuchFile extends NoSuchFileException implements NativeFailure {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;

    NoSuchFile(String call, int errno, String file, String other) {
      super(file, other, reason(call, errno));
      this.call = call;
      this.errno = errno;
    }

    @Override
    public String getMessage() {
      return SysException.message(getFile(), getOtherFile(), call, errno);
    }

    @Override
    public String call() {
      return call;
    }

    @Override
    public int errnoNumber() {
      return errno;
    }
  }

  static final class AlreadyExists extends FileAlreadyExistsException implements NativeFailure {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;

    AlreadyExists(String call, int errno, String file, String other) {
      super(file, other, reason(call, errno));
      this.call = call;
      this.errno = errno;
    }

    @Override
    public String getMessage() {
      return SysException.message(getFile(), getOtherFile(), call, errno);
    }

    @Override
    public String call() {
      return call;
    }

    @Override
    public int errnoNumber() {
      return errno;
    }
  }

  static final class AccessDenied extends AccessDeniedException implements NativeFailure {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;

    AccessDenied(String call, int errno, String file, String other) {
      super(file, other, reason(call, errno));
      this.call = call;
      this.errno = errno;
    }

    @Override
    public String getMessage() {
      return SysException.message(getFile(), getOtherFile(), call, errno);
    }

    @Override
    public String call() {
      return call;
    }

    @Override
    public int errnoNumber() {
      return errno;
    }
  }

  static final class NotEmpty extends DirectoryNotEmptyException implements NativeFailure {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;
    private final String message;

    NotEmpty(String call, int errno, String file, String other) {
      super(file);
      this.call = call;
      this.errno = errno;
      this.message = SysException.message(file, other, call, errno);
    }

    @Override
    public String getMessage() {
      return message;
    }

    @Override
    public String call() {
      return call;
    }

    @Override
    public int errnoNumber() {
      return errno;
    }
  }

  static final class NotDirectory extends NotDirectoryException implements NativeFailure {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int errno;
    private final String message;

    NotDirectory(String call, int errno, String file, String other) {
      super(file);
      this.call = call;
      this.errno = errno;
      this.message = SysException.message(file, other, call, errno);
    }

    @Override
    public String getMessage() {
      return message;
    }

    @Override
    public String call() {
      return call;
    }

    @Override
    public int errnoNumber() {
      return errno;
    }
  }
}
