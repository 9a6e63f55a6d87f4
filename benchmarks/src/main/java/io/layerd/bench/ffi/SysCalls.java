package io.layerd.bench.ffi;

import io.layerd.sys.Stat;
import io.layerd.sys.Sys;
import java.io.IOException;

/** The calls as the applier makes them: through io.layerd.sys.Sys (JNA direct mapping). */
final class SysCalls implements NativeCalls {
  @Override
  public int getuid() {
    return (int) Sys.getuid();
  }

  @Override
  public long fstatat(int dirfd, byte[] name) throws IOException {
    Stat st = Sys.fstatat(dirfd, name, Sys.AT_SYMLINK_NOFOLLOW);
    return st.mode() + st.size();
  }

  @Override
  public void fchownat(int dirfd, byte[] name, int uid, int gid) throws IOException {
    Sys.fchownat(dirfd, name, uid, gid, Sys.AT_SYMLINK_NOFOLLOW);
  }

  @Override
  public void utimensat(int dirfd, byte[] name, long sec, long nsec) throws IOException {
    Sys.utimensat(dirfd, name, sec, nsec, sec, nsec, Sys.AT_SYMLINK_NOFOLLOW);
  }

  @Override
  public void openClose(int dirfd, byte[] name) throws IOException {
    Sys.close(Sys.openat(dirfd, name, Sys.O_RDONLY | Sys.O_NOFOLLOW, 0));
  }
}
