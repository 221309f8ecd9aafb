"""Fixtures of the projects area: Chromium for its browser journey."""

from tests.support.browser import browser_type_launch_args, login  # noqa: F401  (Chromium for browser tests)
