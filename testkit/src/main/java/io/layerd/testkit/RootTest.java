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
 * Marks a test that needs root. Before the test (and before any {@code @BeforeEach}) it runs {@link
 * Require#root()}, so it is skipped with a reason as a plain user and fails there when {@link
 * Require#requireAll()} is on.
 *
 * <p>It is a JUnit {@code @Test} tagged {@value Tiers#ROOT}: write {@code @RootTest} instead of
 * {@code @Test}.
 */
@Target({ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Test
@Tag(Tiers.ROOT)
@ExtendWith(TierProbes.Root.class)
public @interface RootTest {}
