package io.layerd.testkit;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The probes that the tier annotations run before each test. */
final class TierProbes {
  private TierProbes() {}

  /** For {@link RootTest}. */
  static final class Root implements BeforeEachCallback {
    @Override
    public void beforeEach(ExtensionContext context) {
      Require.root();
    }
  }

  /** For {@link UserNsTest}. */
  static final class UserNs implements BeforeEachCallback {
    @Override
    public void beforeEach(ExtensionContext context) {
      Require.root();
      Require.command("setpriv");
      Require.userNamespaces();
    }
  }
}
