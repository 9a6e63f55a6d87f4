package io.layerd.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Marks a test against real peers (GNU tar, umoci, dockerd...). It runs no probe itself: the test
 * names the peers it needs with {@link Require#command(String)}, which skips or fails with a
 * reason.
 *
 * <p>It is a JUnit {@code @Test} tagged {@value Tiers#E2E}: write {@code @EndToEndTest} instead of
 * {@code @Test}.
 */
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Test
@Tag(Tiers.E2E)
public @interface EndToEndTest {}
