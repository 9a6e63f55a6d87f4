/**
 * Not exported: what layerd's daemon and CLI need of idmap beyond its API. {@link
 * io.layerd.idmap.internal.RootlessNamespace} decides whether to re-run the process inside a user
 * and mount namespace ({@link io.layerd.idmap.internal.RootlessMode}) and does so; {@link
 * io.layerd.idmap.internal.EffectiveMapping} is the mapping layers will be applied under; {@link
 * io.layerd.idmap.internal.Doctor} checks every rootless prerequisite and names its remedy. Types
 * here are public only because the daemon and the CLI use them; nothing else may (the architecture
 * module checks it).
 */
package io.layerd.idmap.internal;
