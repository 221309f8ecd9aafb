"""Fixtures of this area: real databases with real workloads (shared with the queries area), Chromium."""

from tests.queries.conftest import target_url  # noqa: F401  (a real database with an items table)
from tests.support.browser import browser_type_launch_args, login  # noqa: F401  (Chromium for browser tests)
