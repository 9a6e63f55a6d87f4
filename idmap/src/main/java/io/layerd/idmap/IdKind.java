package io.layerd.idmap;

import java.nio.file.Path;

/** User ids or group ids: which file, which {@code /proc} map and which {@code usermod} flag. */
public enum IdKind {
  UID("uid", "/etc/subuid", "uid_map", "--add-subuids", "newuidmap"),
  GID("gid", "/etc/subgid", "gid_map", "--add-subgids", "newgidmap");

  private final String label;
  private final String subIdFile;
  private final String procMap;
  private final String usermodFlag;
  private final String mapTool;

  IdKind(String label, String subIdFile, String procMap, String usermodFlag, String mapTool) {
    this.label = label;
    this.subIdFile = subIdFile;
    this.procMap = procMap;
    this.usermodFlag = usermodFlag;
    this.mapTool = mapTool;
  }

  /** "uid" or "gid". */
  public String label() {
    return label;
  }

  /** The subordinate id file: {@code /etc/subuid} or {@code /etc/subgid}. */
  public Path defaultSubIdFile() {
    return Path.of(subIdFile);
  }

  /** The name of the map under {@code /proc/<pid>/}: {@code uid_map} or {@code gid_map}. */
  public String procMapName() {
    return procMap;
  }

  /**
   * The {@code usermod} option that adds a range: {@code --add-subuids} or {@code --add-subgids}.
   */
  public String usermodFlag() {
    return usermodFlag;
  }

  /** The setuid helper that writes this map: {@code newuidmap} or {@code newgidmap}. */
  public String mapTool() {
    return mapTool;
  }

  /** "subuid" or "subgid", as in "No subuid ranges found". */
  public String subLabel() {
    return "sub" + label;
  }

  @Override
  public String toString() {
    return label;
  }
}
