"""Fixtures of the cross-area tests: Chromium, and the Neon stand-in for pages of a Neon project."""

from tests.neon.conftest import neon_project, neon_settings, neon_standin, standin_db  # noqa: F401
from tests.support.browser import browser_type_launch_args, login  # noqa: F401
