"""Fixtures of the common area's browser tests: Chromium, and a Neon project on the API stand-in."""

from tests.neon.conftest import neon_project, neon_settings, neon_standin, standin_db  # noqa: F401
from tests.support.browser import browser_type_launch_args, login  # noqa: F401
