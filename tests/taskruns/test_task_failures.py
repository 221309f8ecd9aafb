"""An error ends its run failed (and audited where the task audits), never stuck "running".

A credential stored with an encryption key that was removed is a real, expected error now:
each task that needs the secret says it cannot be decrypted. Errors no task expects are
turned into a failed, audited run by lifecycle.execute (the tests at the end).
"""

import psycopg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from cryptography.fernet import Fernet

from dashboard.models import AuditEvent, Project, TaskRun
from dashboard.neon.tasks import neon_action, sync_neon_project
from dashboard.projects.tasks import check_project_connection
from dashboard.schema.tasks import capture_schema_snapshot
from dashboard.taskruns import lifecycle

TASKS = [
    (check_project_connection, "connection_check", {}, ""),
    (sync_neon_project, "neon.sync", {"action": "sync"}, "neon.sync"),
    (neon_action, "neon.action", {"action": "wake", "branch_id": "br-main"}, "neon.wake"),
    (capture_schema_snapshot, "schema_snapshot", {"source": "manual", "branch": ""}, "schema.snapshot"),
]


@pytest.mark.parametrize("task, kind, params, action", TASKS, ids=[t[1] for t in TASKS])
def test_a_task_whose_credentials_cannot_be_decrypted_ends_failed_and_says_why(
    project, users, settings, task, kind, params, action
):
    Project.objects.filter(pk=project.pk).update(status="checking")
    project.neon_project_id, project.neon_api_key = "p-lost-key", "neon-key"
    project.save()
    run = TaskRun.objects.create(kind=kind, project=project, created_by=users["engineer"], params=params)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is gone

    task(str(run.pk))

    run.refresh_from_db()
    assert run.status == "failed"
    assert run.finished_at is not None
    assert "credentials cannot be decrypted; re-enter them" in run.error
    if action:
        event = AuditEvent.objects.get(action=action, project_id=project.pk)
        assert event.outcome == "failure" and event.actor == users["engineer"]
        assert event.detail["error"] == run.error
    if kind == "connection_check":  # the project does not stay "checking"
        assert Project.objects.filter(pk=project.pk).values_list("status", flat=True).get() == "error"


@pytest.mark.parametrize(
    "error, message",
    [
        (SoftTimeLimitExceeded(), "The task took too long and was stopped."),
        (
            psycopg.OperationalError("connection to postgresql://app:s3cr3t@db.example/x failed"),
            "The task stopped on an unexpected error (OperationalError); details are in the worker log.",
        ),
    ],
    ids=["soft-time-limit", "driver-error"],
)
def test_execute_fails_the_run_with_a_message_free_of_secrets(project, users, error, message, caplog):
    run = TaskRun.objects.create(kind="connection_check", project=project, created_by=users["admin"])
    assert lifecycle.claim(str(run.pk)) is not None
    undone = []

    def body(claimed):
        raise error

    lifecycle.execute(run, body, audit_action="project.check", on_failure=undone.append)

    run.refresh_from_db()
    assert run.status == "failed" and run.error == message
    assert undone == [message]
    event = AuditEvent.objects.get(action="project.check")
    assert event.outcome == "failure" and event.detail == {"error": message}
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in run.error
