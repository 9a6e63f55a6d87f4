package io.layerd.sys;

import java.util.HashMap;
import java.util.Map;

/**
 * Linux error numbers by name. The numbers are the asm-generic ones shared by x86_64 and aarch64
 * (include/uapi/asm-generic/errno-base.h and errno.h).
 */
public enum Errno {
  EPERM(1, "Operation not permitted"),
  ENOENT(2, "No such file or directory"),
  ESRCH(3, "No such process"),
  EINTR(4, "Interrupted system call"),
  EIO(5, "Input/output error"),
  ENXIO(6, "No such device or address"),
  E2BIG(7, "Argument list too long"),
  EBADF(9, "Bad file descriptor"),
  EAGAIN(11, "Resource temporarily unavailable"),
  ENOMEM(12, "Cannot allocate memory"),
  EACCES(13, "Permission denied"),
  EFAULT(14, "Bad address"),
  EBUSY(16, "Device or resource busy"),
  EEXIST(17, "File exists"),
  EXDEV(18, "Invalid cross-device link"),
  ENODEV(19, "No such device"),
  ENOTDIR(20, "Not a directory"),
  EISDIR(21, "Is a directory"),
  EINVAL(22, "Invalid argument"),
  ENFILE(23, "Too many open files in system"),
  EMFILE(24, "Too many open files"),
  ENOTTY(25, "Inappropriate ioctl for device"),
  ETXTBSY(26, "Text file busy"),
  EFBIG(27, "File too large"),
  ENOSPC(28, "No space left on device"),
  ESPIPE(29, "Illegal seek"),
  EROFS(30, "Read-only file system"),
  EMLINK(31, "Too many links"),
  EPIPE(32, "Broken pipe"),
  ERANGE(34, "Numerical result out of range"),
  ENAMETOOLONG(36, "File name too long"),
  ENOSYS(38, "Function not implemented"),
  ENOTEMPTY(39, "Directory not empty"),
  ELOOP(40, "Too many levels of symbolic links"),
  ENODATA(61, "No data available"),
  EOVERFLOW(75, "Value too large for defined data type"),
  EOPNOTSUPP(95, "Operation not supported"),
  ENOTCONN(107, "Transport endpoint is not connected"),
  ETIMEDOUT(110, "Connection timed out"),
  ESTALE(116, "Stale file handle"),
  EDQUOT(122, "Disk quota exceeded");

  /** ENOTSUP is the same number as EOPNOTSUPP on Linux. */
  public static final Errno ENOTSUP = EOPNOTSUPP;

  private static final Map<Integer, Errno> BY_NUMBER = new HashMap<>();

  static {
    for (Errno e : values()) {
      BY_NUMBER.put(e.number, e);
    }
  }

  private final int number;
  private final String description;

  Errno(int number, String description) {
    this.number = number;
    this.description = description;
  }

  public int number() {
    return number;
  }

  public String description() {
    return description;
  }

  /** The errno for a number, or null when this table does not name it. */
  public static Errno of(int number) {
    return BY_NUMBER.get(number);
  }

  /** "EINVAL (Invalid argument)", or "errno 123" for a number this table does not name. */
  public static String describe(int number) {
    Errno e = of(number);
    return e == null ? "errno " + number : e.name() + " (" + e.description + ")";
  }
}
