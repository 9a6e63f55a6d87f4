package io.layerd.daemon.containerd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * dockerd's {@code daemon.json} for Docker 28 and later on layerd: the containerd image store
 * ({@code features.containerd-snapshotter}), layerd's snapshotter as the storage driver, and the
 * containerd that has it ({@code "containerd"}, the same as {@code dockerd --containerd PATH}).
 * What {@code layerd config docker} prints.
 */
public final class DockerDaemonConfig {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private DockerDaemonConfig() {}

  /** The document: dockerd on the containerd at {@code containerdAddress}, using layerd. */
  public static ObjectNode of(Path containerdAddress) {
    ObjectNode n = JSON.createObjectNode();
    n.putObject("features").put("containerd-snapshotter", true);
    n.put("storage-driver", ContainerdConfig.SNAPSHOTTER_NAME);
    n.put("containerd", containerdAddress.toString());
    return n;
  }

  /** The JSON text, indented, with a final newline. */
  public static String toJson(ObjectNode daemonJson) {
    try {
      return JSON.writeValueAsString(daemonJson) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write daemon.json", e);
    }
  }
}
