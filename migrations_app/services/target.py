"""Connecting to a request's target: the DIRECT connection of its branch, with the project's timeouts.

Migrations never use the pooler: session settings and the advisory apply lock need a real session.
"""

import psycopg
from django.conf import settings

from dashboard.connections import connect_url, database_and_role, open_target, open_url
from dashboard.introspection.diff import diff_catalogs
from dashboard.introspection.schema import read_catalog
from migrations_app.engine.apply import ApplySettings


def migration_id(revision) -> str:
    """The id the target's history table knows this revision by (stable, so a rerun resumes)."""
    return f"neon-ops-{revision.request_id}-r{revision.number}"


def apply_settings(policy, user) -> ApplySettings:
    return ApplySettings(
        lock_timeout_ms=policy.lock_timeout_ms,
        statement_timeout_ms=policy.statement_timeout_ms,
        max_lock_retries=settings.MIGRATION_LOCK_RETRIES,
        retry_base_seconds=settings.MIGRATION_LOCK_RETRY_BASE_SECONDS,
        applied_by=user.get_username() if user is not None else "",
    )


def _timeouts(policy) -> dict:
    return {"statement_timeout_ms": policy.statement_timeout_ms, "lock_timeout_ms": policy.lock_timeout_ms}


def open_request_target(req, policy):
    """The request's branch over its DIRECT URL: an autocommit session with the project's migration
    timeouts (cold starts retried); every failure comes out as a TargetError (see open_target)."""
    return open_target(req.project, req.branch_id or None, direct=True, **_timeouts(policy))


def open_branch_url(url: str, policy):
    """The same for a temporary branch whose URI came from the Neon API."""
    return open_url(url, **_timeouts(policy))


def side_connection(url: str, policy) -> psycopg.Connection:
    """A second connection to `url` (lock sampling during non-transactional statements)."""
    return connect_url(url, **_timeouts(policy))


def request_names(req) -> tuple[str, str]:
    """(database, role) of the request's branch: a temporary branch of it is reached with the same."""
    return database_and_role(req.project, req.branch_id or None)


def read_schema(conn: psycopg.Connection):
    return read_catalog(conn.cursor())


def diff_json(before, after) -> list[dict]:
    """The schema area's diff of two catalogs, as stored JSON."""
    return [
        {
            "kind": o.kind,
            "label": o.label,
            "status": o.status,
            "changes": [
                {"part": c.part, "status": c.status, "before": c.before, "after": c.after} for c in o.changes
            ],
        }
        for o in diff_catalogs(before, after).objects
    ]


def _facts(diff: list[dict]) -> set[str]:
    facts = set()
    for o in diff:
        facts.add(f"{o['status']} {o['kind']} {o['label']}")
        facts.update(f"{o['label']}: {c['status']} {c['part']}" for c in o.get("changes", []))
    return facts


def diff_mismatch(rehearsed: list[dict] | None, applied: list[dict]) -> list[str]:
    """What the real apply changed differently from the rehearsal ([] when they agree or none ran)."""
    if rehearsed is None:
        return []
    expected, actual = _facts(rehearsed), _facts(applied)
    return [f"only in the rehearsal: {f}" for f in sorted(expected - actual)] + [
        f"only on the target: {f}" for f in sorted(actual - expected)
    ]
