"""The browser fixtures (Playwright driving Debian's Chromium, one per session) moved to the
root conftest.py, so the apps' own browser tests (heedful/*/tests) share the same instance."""
