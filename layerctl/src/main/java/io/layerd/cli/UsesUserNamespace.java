package io.layerd.cli;

/**
 * Marks a subcommand that must run inside the rootless user namespace when started by a non-root
 * user (it creates files owned by other ids): before it runs, {@link RootlessHook} re-executes
 * layerctl inside a new user and mount namespace as {@code --rootless} says. Commands that only
 * inspect ({@code doctor}, {@code idmap show}, {@code check-ids}) do not carry it: they describe
 * the namespace from outside.
 */
public interface UsesUserNamespace {}
