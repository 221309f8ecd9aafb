"""Demo data of reviewed migrations: `pagila` starts with one request waiting for admin's approval.

Drafted by `engineer` from the advisor's fk-without-index finding (its fix SQL, CREATE INDEX
CONCURRENTLY), linted, and put through the rehearsal rule right away, so the page shows the
lint and why no rehearsal ran on the live database (a concurrent build cannot run in a
rolled-back transaction). Running it again adds nothing.

`pagila-neon` gets the same request once `neon_demo register` has registered it against the
stand-in; its rehearsal is queued for the worker (which `make run` starts after the register
step), and runs on a temporary stand-in branch that is deleted afterwards.
"""

from django.contrib.auth import get_user_model
from django.db import transaction

from dashboard.schema.snapshots import capture_snapshot, latest_snapshot

# Dashboard code used here (import paths of today; the layout issue moves them).
from dashboard.taskruns import lifecycle as taskruns
from migrations_app.models import MigrationRequest
from migrations_app.services import rehearse, workflow
from migrations_app.services.lint import lint

DEMO_TITLE_PREFIX = "Index the foreign key"
FALLBACK_SQL = (
    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "rental_staff_id_idx" ON "public"."rental" ("staff_id");'
)


def _fk_index_finding(project) -> tuple[str, str]:
    """(what, fix SQL) of the first fk-without-index finding of the latest snapshot."""
    snapshot = latest_snapshot(project) or capture_snapshot(project)
    snapshot = type(snapshot).objects.get(pk=snapshot.pk)  # with its findings loaded
    for finding in snapshot.findings:
        if finding.get("rule") == "fk-without-index" and "CONCURRENTLY" in finding.get("fix_sql", ""):
            where = f"{finding.get('schema')}.{finding.get('table')}"
            return where, finding["fix_sql"]
    return "public.rental", FALLBACK_SQL


def _draft_demo_request(project, engineer) -> MigrationRequest:
    where, sql = _fk_index_finding(project)
    with transaction.atomic():  # the rehearsal task is sent when this commits
        return workflow.draft(
            project, engineer, title=f"{DEMO_TITLE_PREFIX} of {where}", sql=sql, outcome=lint(project, sql),
            acknowledged=False,
        )  # fmt: skip


def _has_demo_request(project) -> bool:
    return MigrationRequest.objects.filter(project=project, title__startswith=DEMO_TITLE_PREFIX).exists()


def ensure_neon_demo_migration(project) -> MigrationRequest | None:
    """The Neon demo's request; its rehearsal (on a temporary branch) is left queued for the worker."""
    engineer = get_user_model().objects.filter(username="engineer").first()
    if engineer is None or _has_demo_request(project):
        return None
    return _draft_demo_request(project, engineer)


def ensure_demo_migration(project) -> MigrationRequest | None:
    if _has_demo_request(project):
        return None
    engineer = get_user_model().objects.filter(username="engineer").first()
    req = _draft_demo_request(project, engineer)
    rehearsal = workflow.latest_rehearsal(workflow.current_revision(req))
    run = taskruns.claim(str(rehearsal.task_run_id)) if rehearsal is not None else None
    if run is not None:
        rehearse.run_rehearsal(run)  # here, not on a worker: the demo opens with the result shown
    req.refresh_from_db()
    return req
