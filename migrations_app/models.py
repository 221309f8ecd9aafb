"""Migration requests, lint results, approvals and runs (not built yet: see the open issues)."""

from migrations_app.history.models import *  # noqa: F401,F403
