package io.layerd.engine.spi;

/** Layer ids are file names inside the data-root: they are checked before any use. */
public final class LayerIds {
  /** Longer than any id Docker or containerd makes (64 hex + "-init"), far short of NAME_MAX. */
  public static final int MAX_LENGTH = 200;

  private LayerIds() {}

  /** Returns the id, or throws IllegalArgumentException naming what is wrong with it. */
  public static String check(String id) {
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("a layer id is empty");
    }
    if (id.length() > MAX_LENGTH) {
      throw new IllegalArgumentException(
          "layer id of " + id.length() + " characters is longer than " + MAX_LENGTH);
    }
    if (id.equals(".") || id.equals("..")) {
      throw new IllegalArgumentException("'" + id + "' is not a layer id");
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '-'
              || c == '_'
              || c == '.';
      if (!ok) {
        throw new IllegalArgumentException(
            "layer id '"
                + id.replaceAll("[^\\x20-\\x7e]", "?")
                + "' holds '"
                + (c < 0x20 ? String.format("\\x%02x", (int) c) : String.valueOf(c))
                + "': ids are letters, digits, '-', '_' and '.'");
      }
    }
    return id;
  }
}
