/**
 * Not exported: what the unpack module's own packages share beyond its API. {@link
 * io.layerd.unpack.internal.Staging} makes a destination in a sibling staging directory and renames
 * it into place only when the work succeeded; image unpacking and {@code layerctl unpack} use it.
 * Types here are public only for those users (the architecture module checks that nothing else uses
 * them).
 */
package io.layerd.unpack.internal;
