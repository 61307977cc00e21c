"""GraphiQL driven in a real headless Chromium (Debian's `chromium`) with Playwright."""
