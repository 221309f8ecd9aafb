"""A capture that cannot read the target fails with a clear message and changes nothing."""

import socket

import pytest

from dashboard.models import Project, SchemaSnapshot, TaskRun
from dashboard.schema.tasks import (
    BRANCH_COMPARE_KIND,
    SNAPSHOT_KIND,
    request_snapshot,
    run_branch_compare,
    run_capture,
)
from dashboard.taskruns import lifecycle
from tests.support import pg

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_target_fails_the_refresh_with_a_clear_message(client_for, team, users):
    project = Project.objects.create(
        team=team,
        name="Gone",
        slug="gone",
        pooled_url=f"postgresql://u:secret-pw@127.0.0.1:{closed_port()}/db",
    )
    run = request_snapshot(project, user=users["engineer"])
    run_capture(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "failed" and run.error.startswith("Connection refused by 127.0.0.1:")
    assert not SchemaSnapshot.objects.exists()
    page = client_for("viewer").get("/projects/gone/schema/").content.decode()
    assert "Last refresh failed" in page and "Connection refused" in page and "secret-pw" not in page


def test_a_role_without_table_privileges_can_capture_the_schema(project, target_db, target_sql):
    """Catalog reads need no privileges on the tables themselves, so a least-privilege role works."""
    target_sql(
        "CREATE TABLE secret_stuff (id int)",
        "DROP ROLE IF EXISTS schema_reader_t",
        "CREATE ROLE schema_reader_t LOGIN PASSWORD 'pw'",
    )
    Project.objects.filter(pk=project.pk).update(
        pooled_url=pg.url_for(target_db, user="schema_reader_t", password="pw")
    )
    project.refresh_from_db()
    try:
        run = request_snapshot(project)
        run_capture(lifecycle.claim(str(run.pk)))
        run.refresh_from_db()
        assert run.status == "succeeded", run.error
        assert SchemaSnapshot.objects.get(project=project).counts["relations"] == 1
    finally:
        target_sql("DROP OWNED BY schema_reader_t", "DROP ROLE schema_reader_t")


def test_branch_comparison_with_a_vanished_branch_fails_clearly(project):
    run = TaskRun.objects.create(
        kind=BRANCH_COMPARE_KIND, project=project, params={"base": "br-x", "head": "br-y"}
    )
    run_branch_compare(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "failed" and run.error == "The base branch is no longer known for this project."
    assert not SchemaSnapshot.objects.exists()
    assert not TaskRun.objects.filter(kind=SNAPSHOT_KIND).exists()
