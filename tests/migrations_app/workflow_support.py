"""Shared helpers of the workflow tests (the engine's fixtures live in conftest.py beside them).

Requests are drafted through the real pages or the real services; nothing is faked.
"""

from django.utils import timezone

from migrations_app.models import MigrationRequest, Rehearsal, RehearsalStatus, RequestState
from migrations_app.services import workflow
from migrations_app.services.lint import lint

SIMPLE_SQL = "CREATE TABLE audit_log (id bigint PRIMARY KEY, note text);"


def draft(
    project, user, sql: str = SIMPLE_SQL, title: str = "Add audit log", acknowledged=False, branch=None
):
    """Draft through the workflow service exactly as the view does (lint included)."""
    return workflow.draft(
        project,
        user,
        title=title,
        sql=sql,
        outcome=lint(project, sql),
        acknowledged=acknowledged,
        branch=branch,
    )


def rehearsed(
    req: MigrationRequest, status: str = RehearsalStatus.SUCCEEDED, reason: str = ""
) -> MigrationRequest:
    """Finish the queued rehearsal of the current revision with `status` (as the rehearsal task does)."""
    revision = workflow.current_revision(req)
    rehearsal = Rehearsal.objects.filter(revision=revision).order_by("-created_at").first()
    rehearsal.status, rehearsal.reason, rehearsal.finished_at = status, reason, timezone.now()
    rehearsal.save()
    MigrationRequest.objects.filter(pk=req.pk).update(state=RequestState.AWAITING_APPROVAL)
    req.refresh_from_db()
    return req


def approved(req: MigrationRequest, admin) -> MigrationRequest:
    workflow.approve(req, admin)
    req.refresh_from_db()
    return req


def page(client, req) -> str:
    return client.get(f"/projects/{req.project.slug}/migrations/{req.pk}/").content.decode()
