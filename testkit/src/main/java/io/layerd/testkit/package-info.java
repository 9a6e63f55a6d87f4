/**
 * Test support shared by every layerd module: test tiers ({@link io.layerd.testkit.Require}, {@link
 * io.layerd.testkit.RootTest}, {@link io.layerd.testkit.UserNsTest}, {@link
 * io.layerd.testkit.EndToEndTest}), a real unprivileged user with subordinate ids ({@link
 * io.layerd.testkit.TestUser}), child JVMs run as that user, with or without a user namespace
 * ({@link io.layerd.testkit.ChildJvm}), tar fixtures built in code ({@link
 * io.layerd.testkit.TarBuilder}, {@link io.layerd.testkit.HeaderBlock}) and canonical listings of
 * directory trees to compare unpacked layers ({@link io.layerd.testkit.TreeManifest}).
 *
 * <p>Everything native goes through {@code io.layerd.sys.Sys}.
 */
package io.layerd.testkit;
