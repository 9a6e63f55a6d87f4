package io.layerd.sys;

import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * The C library, bound by JNA direct mapping. Package-private: only {@link Sys} calls it. Each
 * method is documented by its C prototype; pointers to caller memory are {@code byte[]} (copied in
 * and out by JNA) or {@code long} addresses of direct buffers. Errors are read with {@link
 * Native#getLastError()} right after a call returns -1.
 */
final class LibC {
  static {
    Native.register(LibC.class, Platform.C_LIBRARY_NAME);
  }

  private LibC() {}

  /** int openat(int dirfd, const char *path, int flags, mode_t mode); */
  static native int openat(int dirfd, byte[] path, int flags, int mode);

  /** long syscall(SYS_openat2, int dirfd, const char *path, struct open_how *how, size_t size); */
  static native long syscall(long number, int dirfd, byte[] path, byte[] how, long size);

  /** int close(int fd); */
  static native int close(int fd);

  /** int dup(int fd); */
  static native int dup(int fd);

  /** int mkdirat(int dirfd, const char *path, mode_t mode); */
  static native int mkdirat(int dirfd, byte[] path, int mode);

  /** int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev); */
  static native int mknodat(int dirfd, byte[] path, int mode, long dev);

  /** int symlinkat(const char *target, int newdirfd, const char *linkpath); */
  static native int symlinkat(byte[] target, int newdirfd, byte[] linkpath);

  /**
   * int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
   */
  static native int linkat(int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags);

  /** int unlinkat(int dirfd, const char *path, int flags); */
  static native int unlinkat(int dirfd, byte[] path, int flags);

  /**
   * int renameat2(int olddirfd, const char *old, int newdirfd, const char *new, unsigned flags);
   */
  static native int renameat2(
      int olddirfd, byte[] oldpath, int newdirfd, byte[] newpath, int flags);

  /** ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size); */
  static native long readlinkat(int dirfd, byte[] path, byte[] buf, long size);

  /** int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags); */
  static native int fchownat(int dirfd, byte[] path, int uid, int gid, int flags);

  /** int fchown(int fd, uid_t owner, gid_t group); */
  static native int fchown(int fd, int uid, int gid);

  /** int lchown(const char *path, uid_t owner, gid_t group); */
  static native int lchown(byte[] path, int uid, int gid);

  /** int fchmodat(int dirfd, const char *path, mode_t mode, int flags); */
  static native int fchmodat(int dirfd, byte[] path, int mode, int flags);

  /** int fchmod(int fd, mode_t mode); */
  static native int fchmod(int fd, int mode);

  /** int flock(int fd, int operation); */
  static native int flock(int fd, int operation);

  /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags); */
  static native int utimensat(int dirfd, byte[] path, long[] times, int flags);

  /** int futimens(int fd, const struct timespec times[2]); */
  static native int futimens(int fd, long[] times);

  /** int lsetxattr(const char *path, const char *name, const void *value, size_t size, int f); */
  static native int lsetxattr(byte[] path, byte[] name, byte[] value, long size, int flags);

  /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size); */
  static native long lgetxattr(byte[] path, byte[] name, byte[] value, long size);

  /** ssize_t llistxattr(const char *path, char *list, size_t size); */
  static native long llistxattr(byte[] path, byte[] list, long size);

  /** int lremovexattr(const char *path, const char *name); */
  static native int lremovexattr(byte[] path, byte[] name);

  /** int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags); */
  static native int fsetxattr(int fd, byte[] name, byte[] value, long size, int flags);

  /** ssize_t fgetxattr(int fd, const char *name, void *value, size_t size); */
  static native long fgetxattr(int fd, byte[] name, byte[] value, long size);

  /** ssize_t flistxattr(int fd, char *list, size_t size); */
  static native long flistxattr(int fd, byte[] list, long size);

  /** int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf); */
  static native int statx(int dirfd, byte[] path, int flags, int mask, byte[] buf);

  /** int statfs(const char *path, struct statfs *buf); */
  static native int statfs(byte[] path, byte[] buf);

  /** int fstatfs(int fd, struct statfs *buf); */
  static native int fstatfs(int fd, byte[] buf);

  /** int uname(struct utsname *buf); */
  static native int uname(byte[] buf);

  /** int mount(const char *src, const char *target, const char *type, unsigned long f, void *d); */
  static native int mount(byte[] source, byte[] target, byte[] fstype, long flags, byte[] data);

  /** int umount2(const char *target, int flags); */
  static native int umount2(byte[] target, int flags);

  /** int ioctl(int fd, unsigned long request, long arg); (an integer argument) */
  static native int ioctl(int fd, long request, long arg);

  /** int ioctl(int fd, unsigned long request, void *arg); (a structure argument) */
  static native int ioctl(int fd, long request, byte[] arg);

  /** int fsync(int fd); */
  static native int fsync(int fd);

  /** int fdatasync(int fd); */
  static native int fdatasync(int fd);

  /** int syncfs(int fd); */
  static native int syncfs(int fd);

  /**
   * ssize_t copy_file_range(int in, loff_t *off_in, int out, loff_t *off_out, size_t n, uint f);
   */
  static native long copy_file_range(
      int fdIn, long[] offIn, int fdOut, long[] offOut, long len, int flags);

  /** ssize_t read(int fd, void *buf, size_t count); (buf: address of native memory) */
  static native long read(int fd, long buf, long count);

  /** ssize_t write(int fd, const void *buf, size_t count); (buf: address of native memory) */
  static native long write(int fd, long buf, long count);

  /** ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); */
  static native long pwrite(int fd, long buf, long count, long offset);

  /** int ftruncate(int fd, off_t length); */
  static native int ftruncate(int fd, long length);

  /** off_t lseek(int fd, off_t offset, int whence); */
  static native long lseek(int fd, long offset, int whence);

  /** ssize_t getdents64(int fd, void *dirp, size_t count); */
  static native long getdents64(int fd, byte[] dirp, long count);

  /** uid_t getuid(void); */
  static native int getuid();

  /** uid_t geteuid(void); */
  static native int geteuid();

  /** gid_t getgid(void); */
  static native int getgid();

  /** gid_t getegid(void); */
  static native int getegid();

  /** mode_t umask(mode_t mask); */
  static native int umask(int mask);

  // For Sys.unshare and Sys.chdir (the overlay2 driver's mounts from a working directory).

  /** int unshare(int flags); */
  static native int unshare(int flags);

  /** int chdir(const char *path); */
  static native int chdir(byte[] path);
}
