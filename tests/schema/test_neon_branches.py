"""Branch diff and periodic snapshots on a Neon project, through the local Neon API stand-in."""

import psycopg
import pytest

from dashboard.connections import read_url
from dashboard.models import NeonBranch, NeonCompute, TaskRun
from dashboard.neon.sync import sync_project
from dashboard.schema.tasks import (
    BRANCH_COMPARE_KIND,
    SNAPSHOT_KIND,
    run_branch_compare,
    run_capture,
    schedule_periodic_snapshots,
)
from dashboard.taskruns import lifecycle
from tests.neon.conftest import neon_project, neon_settings, neon_standin, standin_db  # noqa: F401
from tests.neon.test_sync import make_branch, suspend

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_dev_branch(neon_project, neon_standin):  # noqa: F811
    make_branch(neon_standin, "dev")
    sync_project(neon_project)
    return neon_project


def branch(project, name):
    return NeonBranch.objects.get(project=project, name=name)


def test_compare_two_branches_reads_both_and_shows_the_diff(client_for, with_dev_branch):
    project = with_dev_branch
    main, dev = NeonBranch.objects.get(project=project, is_default=True), branch(project, "dev")
    with psycopg.connect(read_url(project, dev), autocommit=True) as conn:
        conn.execute("ALTER TABLE film ADD COLUMN rating text")
        conn.execute("CREATE TABLE reviews (id int PRIMARY KEY, film_id int REFERENCES film)")
    client = client_for("engineer")
    page = client.get("/projects/pagila-neon/schema/diff/").content.decode()
    assert f'<option value="{dev.branch_id}"' in page and "Read both and compare" in page

    response = client.post(
        "/projects/pagila-neon/schema/compare/", {"base": main.branch_id, "head": dev.branch_id}
    )
    assert response.status_code == 302
    run = TaskRun.objects.get(kind=BRANCH_COMPARE_KIND)
    run_branch_compare(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    status = client.get("/projects/pagila-neon/schema/compare/", HTTP_HX_REQUEST="true")
    assert status.status_code == 286
    link = f"/projects/pagila-neon/schema/diff/?from={run.result['from']}&amp;to={run.result['to']}"
    assert link in status.content.decode()

    diff = client.get(f"/projects/pagila-neon/schema/diff/?from={run.result['from']}&to={run.result['to']}")
    html = diff.content.decode()
    assert "(main) → v" in html and "(dev)" in html
    assert (
        '<span class="diff-added">added</span> table '
        '<a href="/projects/pagila-neon/schema/public/reviews/?branch=dev">' in html
    ), "links go to the table on the newer snapshot's branch (as in main's test_diff)"
    assert "<td>column rating</td>" in html
    assert project.audit_events.filter(action="schema.compare_branches", outcome="success").exists()


def test_periodic_snapshots_skip_an_idle_neon_compute(with_dev_branch, neon_standin):  # noqa: F811
    project = with_dev_branch
    main_compute = NeonCompute.objects.get(branch__project=project, branch__is_default=True)
    assert schedule_periodic_snapshots() == 1  # active compute, no snapshot yet: due
    queued = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    suspend(neon_standin, main_compute.endpoint_id)
    sync_project(project)
    # The run queued before the compute suspended does not wake it either.
    run_capture(lifecycle.claim(str(queued.pk)))
    queued.refresh_from_db()
    assert queued.status == "succeeded" and queued.progress == "Skipped: the compute is idle"
    assert not project.schema_snapshots.exists()
    assert schedule_periodic_snapshots() == 0
    assert TaskRun.objects.filter(kind=SNAPSHOT_KIND).count() == 1


def test_schema_pages_show_a_chosen_branch_with_its_own_snapshots(client_for, with_dev_branch):
    project = with_dev_branch
    dev = branch(project, "dev")
    with psycopg.connect(read_url(project, dev), autocommit=True) as conn:
        conn.execute("CREATE TABLE reviews (id int PRIMARY KEY, body json)")
    client = client_for("engineer")
    empty = client.get("/projects/pagila-neon/schema/?branch=dev").content.decode()
    assert "No schema snapshot has been taken" in empty
    assert '<option value="dev" selected>dev</option>' in empty  # the branch picker
    assert '<input type="hidden" name="branch" value="dev">' in empty  # Refresh acts on dev

    response = client.post("/projects/pagila-neon/schema/refresh/", {"branch": "dev"})
    assert response["Location"] == "/projects/pagila-neon/schema/?branch=dev"
    run = TaskRun.objects.get(kind=SNAPSHOT_KIND)
    assert run.params["branch"] == dev.branch_id
    run_capture(lifecycle.claim(str(run.pk)))
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert project.schema_snapshots.get().branch_id == dev.branch_id

    page = client.get("/projects/pagila-neon/schema/?branch=dev").content.decode()
    assert "Branch <strong>dev</strong>: snapshot <strong>v1</strong>" in page
    assert '<a href="/projects/pagila-neon/schema/public/reviews/?branch=dev">' in page
    assert '<a href="/projects/pagila-neon/schema/advice/?branch=dev"' in page
    table = client.get("/projects/pagila-neon/schema/public/reviews/?branch=dev")
    assert table.status_code == 200 and "Branch <strong>dev</strong>." in table.content.decode()
    advice = client.get("/projects/pagila-neon/schema/advice/?branch=dev").content.decode()
    assert '<a href="/projects/pagila-neon/schema/public/reviews/?branch=dev">public.reviews</a>' in advice
    # The default branch has no snapshot yet, and the dev-only table is not part of it.
    assert "No schema snapshot has been taken" in client.get("/projects/pagila-neon/schema/").content.decode()
    assert client.get("/projects/pagila-neon/schema/public/reviews/").status_code == 404
