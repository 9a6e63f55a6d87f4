/**
 * Not exported: the data-root's checks ({@link io.layerd.engine.internal.DataRoot}: NFS refused
 * before anything is written, the directories made with safe modes) and the naive tree diff ({@link
 * io.layerd.engine.internal.TreeChanges}) that drivers without their own change record use. Public
 * only for the engine's own package and, for {@code DataRoot}, layerctl's {@code driver} command
 * (checked by the architecture module).
 */
package io.layerd.engine.internal;
