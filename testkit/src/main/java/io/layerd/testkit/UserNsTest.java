package io.layerd.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test that runs code in a user namespace (usually through {@link ChildJvm} as {@link
 * TestUser#standard()}). Before the test it runs {@link Require#root()} (switching to the test user
 * needs root) and {@link Require#userNamespaces()}.
 *
 * <p>It is a JUnit {@code @Test} tagged {@value Tiers#USERNS}: write {@code @UserNsTest} instead of
 * {@code @Test}.
 */
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Test
@Tag(Tiers.USERNS)
@ExtendWith(TierProbes.UserNs.class)
public @interface UserNsTest {}
